"""The launch check's steps (statemachine/launch-check.asl.json): do what a student does, and time it.

Build a test repository through BinderHub's public build API and follow its event stream to ``ready``
(phases *build*, *push*, *schedule*), start a kernel on the server and run one cell over its WebSocket through
the hub's public name (*connect*, *execute*), then stop the server. Each phase is a start and a check; the
checks raise a named not-ready error and the state machine's Retry does the waiting.

The check runs while provisioning (the hub is READY only once it passes), on demand (``POST
/hubs/{id}/check``) and after the morning scale-up. Its result is the hub record's ``launch_check``. The
server's token, which BinderHub's ``ready`` event carries, never travels in the workflow's state: it is kept
in the hub table's ``test-server:<hub id>`` item until the server is stopped.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import binder_stream, hub_records, jupyter_kernel, steps, workflow_runs
from chalicelib.binder_stream import LaunchFailed, LaunchNotReady, StreamTimings
from chalicelib.errors import CourseHubError, InvalidEvent
from chalicelib.hub_request import HubRequest
from chalicelib.settings import Settings

STEP = "Launch a test repository"  # the provisioning state that runs the check
PURPOSES = ("provisioning", "on demand", "morning")
PHASES = ("build", "push", "schedule", "connect", "execute")


class TestServerGone(CourseHubError):
    """The test server's record is missing: the check was stopped, or another run stopped the server."""


class LaunchCheckNotStarted(CourseHubError):
    """Step Functions refused to start the launch check."""


def start_run(sfn: Any, dynamodb: Any, settings: Settings, record: dict, purpose: str, now: datetime) -> dict:
    """Start the hub's launch check for ``purpose`` (on demand, morning) and record it RUNNING; a check that runs
    already is returned as it is, and so is the last check of a hub that is not READY (nothing starts).

    The run after a scale-up first waits for the nodes (``wait_for_hub``). LaunchCheckNotStarted if Step
    Functions refuses the start; the check is then recorded FAILED with the reason."""
    hub = record["hub_id"]
    current = record.get("launch_check")
    if current and current.get("status") == "RUNNING" and workflow_runs.run_end(
            sfn, {"execution_arn": current.get("execution_arn"), "updated_at": current.get("started_at")}, now) is None:
        return current
    request = HubRequest.stored(record["request"])
    execution = workflow_runs.execution_arn(settings.launch_check_state_machine_arn, hub)
    check = {"status": "RUNNING", "purpose": purpose, "repository": request.launch_test.repository,
             "phase": "build", "started_at": now.isoformat(timespec="seconds"), "execution_arn": execution}
    if not hub_records.claim_launch_check(dynamodb, settings.hub_table_name, hub, check, current):
        return hub_records.get(dynamodb, settings.hub_table_name, hub).get("launch_check") or check
    machine, name = execution.replace(":execution:", ":stateMachine:").rsplit(":", 1)
    payload = {"hub_id": hub, "request": record["request"], "purpose": purpose, "wait_for_hub": purpose == "morning"}
    try:
        sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(payload))
    except ClientError as error:
        found = error.response.get("Error", {})
        cause = f"Step Functions refused to start the check ({found.get('Code')}: {found.get('Message', '')[:300]})"
        hub_records.update(dynamodb, settings.hub_table_name, hub, launch_check={
            **check, "status": "FAILED", "error": "LaunchCheckNotStarted", "cause": cause,
            "ended_at": now.isoformat(timespec="seconds")})
        raise LaunchCheckNotStarted(cause) from None
    return check


def purpose_of(event: dict) -> str:
    purpose = event.get("purpose", "provisioning")
    if purpose not in PURPOSES:
        raise InvalidEvent(f"launch check event field 'purpose' must be one of {', '.join(PURPOSES)}")
    return purpose


def _timings(settings: Settings) -> StreamTimings:
    return StreamTimings(window=settings.launch_stream_window_seconds, idle=settings.launch_stream_idle_seconds,
                         launch=settings.launch_seconds, end_wait=settings.launch_stream_end_wait_seconds)


def _roots(settings: Settings, request: HubRequest) -> str | None:
    """The only roots a staging hub's certificate verifies against; None: the trust store (as verify_hub)."""
    return settings.acme_staging_roots if request.acme_staging else None


def _progress(dynamodb: Any, settings: Settings, event: dict, phase: str, detail: str) -> None:
    hub_records.update_launch_check(dynamodb, settings.hub_table_name, event["hub_id"], phase=phase,
                                    detail=detail[:500])


@steps.step(recorded=False)
def start_build(dynamodb: Any, settings: Settings, event: dict, now: datetime) -> steps.Outcome:
    """Record the check as RUNNING and open BinderHub's build stream until its first event: the build starts.

    An image built before goes straight on to the launch; then this follows it to the server."""
    request = steps.request_of(event)
    purpose = purpose_of(event)
    test = request.launch_test
    check = {"status": "RUNNING", "purpose": purpose, "repository": test.repository, "phase": "build",
             "started_at": now.isoformat(timespec="milliseconds"), "execution_arn": event.get("execution")}
    hub_records.update(dynamodb, settings.hub_table_name, event["hub_id"], launch_check=check)
    if purpose == "provisioning":
        hub_records.step_started(dynamodb, settings.hub_table_name, event["hub_id"], STEP)
    progress = _follow(dynamodb, settings, event, request, first_read=True)
    return _seen(dynamodb, settings, event, progress, check["started_at"])


@steps.step(recorded=False)
def check_server(dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """LaunchNotReady while BinderHub builds or pushes the image; the server once it is ready."""
    request = steps.request_of(event)
    progress = _follow(dynamodb, settings, event, request)
    if progress.server is None:
        _progress(dynamodb, settings, event, progress.check_phase, progress.last_message)
        hint = (" (a build pod starts only where a builder, the chart's dind or pink DaemonSet, is ready)"
                if progress.phase == "waiting" else "")
        raise LaunchNotReady(progress.check_phase, f"BinderHub is {progress.phase}: {progress.last_message}{hint}")
    return _seen(dynamodb, settings, event, progress, event["launch"]["started_at"])


def _follow(dynamodb: Any, settings: Settings, event: dict, request: HubRequest,
            first_read: bool = False) -> binder_stream.Progress:
    """One read of the test repository's build stream; a server BinderHub started for a failed check is kept
    for the failure path to stop."""
    try:
        return binder_stream.follow(binder_stream.build_url(request.binder, request.launch_test.repository),
                                    _timings(settings), cafile=_roots(settings, request), first_read=first_read)
    except LaunchFailed as failed:
        if failed.server:
            hub_records.put_test_server(dynamodb, settings.hub_table_name, event["hub_id"],
                                        {"url": failed.server["url"], "token": failed.server["token"],
                                         "kernel_id": None})
        raise


def _seen(dynamodb: Any, settings: Settings, event: dict, progress: binder_stream.Progress,
          started_at: str) -> steps.Outcome:
    result = {**progress.summary(), "started_at": started_at}
    if progress.server is None:
        _progress(dynamodb, settings, event, progress.check_phase, progress.last_message)
        return steps.done(result, f"BinderHub is {progress.phase}: {progress.last_message}")
    server = progress.server
    hub_records.put_test_server(dynamodb, settings.hub_table_name, event["hub_id"],
                                {"url": server["url"], "token": server["token"], "kernel_id": None})
    _progress(dynamodb, settings, event, "connect", f"server ready at {server['url']}")
    return steps.done({**result, "server_url": server["url"], "image": server.get("image")},
                      f"server ready at {server['url']}")


def _server(dynamodb: Any, settings: Settings, event: dict) -> dict:
    server = hub_records.get_test_server(dynamodb, settings.hub_table_name, event["hub_id"])
    if server is None:
        raise TestServerGone(f"no test server is recorded for {event['hub_id']}; it was stopped")
    return server


@steps.step(recorded=False)
def start_kernel(dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """Start a kernel on the test server (its REST API through the hub's public name)."""
    request = steps.request_of(event)
    server = _server(dynamodb, settings, event)
    if server.get("kernel_id"):  # a retried start: the kernel is there already
        return steps.done({"kernel_id": server["kernel_id"]}, "kernel started before")
    kernel = jupyter_kernel.start_kernel(server["url"], server["token"], settings.kube_timeout_seconds / 4,
                                         _roots(settings, request))
    hub_records.put_test_server(dynamodb, settings.hub_table_name, event["hub_id"], {**server,
                                                                                     "kernel_id": kernel["id"]})
    return steps.done({"kernel_id": kernel["id"]}, f"kernel {kernel['id']} {kernel['execution_state']}")


@steps.step(recorded=False)
def run_cell(dynamodb: Any, settings: Settings, event: dict, now: datetime) -> steps.Outcome:
    """Open the kernel's WebSocket: KernelNotReady until the kernel answers kernel_info; then send the test cell."""
    request = steps.request_of(event)
    server = _server(dynamodb, settings, event)
    roots = _roots(settings, request)
    session = uuid.uuid4().hex
    sent = jupyter_kernel.send_cell(server["url"], server["token"], server["kernel_id"], session,
                                    request.launch_test.code, settings.kube_timeout_seconds / 4,
                                    settings.kernel_listen_seconds, roots)
    _progress(dynamodb, settings, event, "execute", "cell sent")
    return steps.done({"session_id": session, "msg_id": sent["msg_id"], "messages": sent["collected"],
                       "first_output_at": _first_output_at(sent["collected"], None, now)},
                      f"cell sent over the kernel's WebSocket ({len(sent['collected'])} message(s) back)")


def _first_output_at(messages: list[dict], seen: str | None, now: datetime) -> str | None:
    """When the check first saw output: ``seen`` if it had, now if ``messages`` hold output, else None."""
    if seen:
        return seen
    if any(m["msg_type"] in jupyter_kernel.OUTPUT_TYPES for m in messages):
        return now.isoformat(timespec="milliseconds")
    return None


@steps.step(recorded=False)
def check_output(dynamodb: Any, settings: Settings, event: dict, now: datetime) -> steps.Outcome:
    """CellNotFinished until the cell's execute_reply; then its output must hold the expected text."""
    request = steps.request_of(event)
    server = _server(dynamodb, settings, event)
    cell = event["cell"]
    messages = cell["messages"] + jupyter_kernel.collect(
        server["url"], server["token"], server["kernel_id"], cell["session_id"], cell["msg_id"],
        settings.kube_timeout_seconds / 4, settings.kernel_listen_seconds, _roots(settings, request))
    first = _first_output_at(messages, cell.get("first_output_at"), now)
    result = jupyter_kernel.outcome(messages)
    if result is None:
        raise jupyter_kernel.CellNotFinished(f"execute: the cell has not finished ({len(messages)} message(s))")
    expected = request.launch_test.expected_output
    if result["status"] != "ok":
        raise LaunchFailed("execute", f"the cell failed: {result['error']}")
    if expected not in result["output"]:
        raise LaunchFailed("execute", f"the cell printed {result['output'][:200]!r}, not {expected!r}")
    started = datetime.fromisoformat(event["launch"]["started_at"])
    seconds = round((datetime.fromisoformat(first) - started).total_seconds(), 1) if first else None
    return steps.done({"output": result["output"][:200], "time_to_first_output_seconds": seconds},
                      f"the cell printed {result['output'][:100]!r}")


@steps.step(recorded=False)
def stop_server(dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """Shut the test server down and forget its token; a server already gone counts as stopped.

    A server that cannot be reached is left to the hub's culling (it is idle), and the result says so."""
    request = steps.request_of(event)
    server = hub_records.get_test_server(dynamodb, settings.hub_table_name, event["hub_id"])
    if server is None:
        return steps.done({"stopped": "no test server"}, "no test server to stop")
    try:
        said = jupyter_kernel.stop(server["url"], server["token"], server.get("kernel_id"),
                                   settings.kube_timeout_seconds / 4, _roots(settings, request))
    except LaunchFailed as error:
        said = f"not reached ({error.cause}); the hub's culling stops it once idle"
    hub_records.delete_test_server(dynamodb, settings.hub_table_name, event["hub_id"])
    return steps.done({"stopped": said}, f"test server stopped: {said}")


@steps.step(recorded=False)
def record(dynamodb: Any, settings: Settings, event: dict, now: datetime) -> steps.Outcome:
    """Record how the check ended on the hub (``launch_check``); returns what Slack should say.

    A failure's phase and cause come from the error the failing state raised (``<phase>: <cause>``), or for an
    error that names none (a timeout, an AWS error) from how far the check's state had come (``reached``)."""
    request = steps.request_of(event)
    purpose = purpose_of(event)
    launch = event.get("launch") or {}
    check = {"purpose": purpose, "repository": request.launch_test.repository,
             "started_at": launch.get("started_at") or now.isoformat(timespec="seconds"),
             "ended_at": now.isoformat(timespec="seconds"), "execution_arn": event.get("execution")}
    error = event.get("error")
    course = request.course_id
    if error:
        cause = steps.cause_text(error)
        phase, _, said = cause.partition(": ")
        if phase not in PHASES:  # a timeout or an AWS error: the phase the check had reached
            phase, said = _reached(event.get("reached") or {}), cause
        check.update(status="FAILED", phase=phase, error=error.get("Error", "States.Unknown"), cause=said[:700])
        text = (f"Course {course}: the test launch of {request.launch_test.repository} failed at {phase}: "
                f"{said[:500]}")
    else:
        cell = event.get("output") or {}
        seconds = cell.get("time_to_first_output_seconds")
        check.update(status="PASSED", phase="done", output=cell.get("output"),
                     time_to_first_output_seconds=seconds)
        text = (f"A student can launch {request.launch_test.repository} and run a cell: first output after "
                f"{_seconds(seconds)}.")
        if purpose != "provisioning":  # on its own in the channel, the message names the course
            text = f"Course {course}: {text[0].lower()}{text[1:]}"
    hub_records.update(dynamodb, settings.hub_table_name, event["hub_id"], launch_check=check)
    if purpose == "provisioning" and not error:
        hub_records.step_finished(dynamodb, settings.hub_table_name, event["hub_id"], STEP, "SUCCEEDED",
                                  f"first output after {_seconds(check.get('time_to_first_output_seconds'))}")
    return steps.done({"launch_check": check, "text": text, "announce": purpose != "provisioning",
                       "outcome": "failed" if error else "passed"}, f"{check['status']} ({check['phase']})")


def _reached(state: dict) -> str:
    """The phase a check's state shows it had reached: what its last result was for."""
    if "cell" in state:
        return "execute"
    if "kernel" in state or (state.get("launch") or {}).get("ready"):
        return "connect"
    return (state.get("launch") or {}).get("check_phase") or "build"


def _seconds(seconds: Any) -> str:
    return "an unknown time" if seconds is None else f"{seconds:g} s"
