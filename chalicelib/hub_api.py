"""The REST API's work: create, list, read, change, retire, retry and check hubs. ``app.py`` routes call these.

Every function receives its clients (``clients(service)``), the settings and
what the route read from the request (checked by ``api_input``), and returns
``(status, body)`` (a view from ``api_views``) or raises ``ApiError``.
Workflow runs are started and stopped through ``workflow_runs``.

A hub's id is ``hub-<course id>``: a course has one live hub, so a second
``POST /hubs`` for it returns that hub instead of starting another. After it is
RETIRED the course may have a new hub under the same id.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from chalicelib import api_input, hub_names, hub_records, hub_schedules, scaling, workflow_runs
from chalicelib.api_errors import ApiError
from chalicelib.api_views import summary, view
from chalicelib.eks_cluster import NodegroupBusy
from chalicelib.hub_request import HubRequest
from chalicelib.settings import Settings

Clients = Callable[[str], Any]


def create(clients: Clients, settings: Settings, body: dict, key: str | None, caller: str,
           lambda_context: Any = None) -> tuple[int, dict]:
    """Record the hub and start provisioning (202); the course's live hub instead, if it has one (200)."""
    request = api_input.parse_request(body, settings)
    if key is None:
        return _create(clients, settings, request, caller)
    status, hub = workflow_runs.once_per_key(clients("dynamodb"), settings.idempotency_table_name,
                                             f"{caller} {key}", body,
                                             lambda: _create(clients, settings, request, caller), lambda_context)
    return status, view(_record(clients, settings, hub))


def _create(clients: Clients, settings: Settings, request: HubRequest, caller: str) -> tuple[int, dict]:
    dynamodb, table = clients("dynamodb"), settings.hub_table_name
    hub = f"hub-{request.course_id}"
    accepted = request.model_dump(mode="json")
    execution = workflow_runs.execution_arn(settings.provision_state_machine_arn, hub)
    cluster = hub_names.cluster_name(settings.stage, request.course_id)
    if not workflow_runs.record_new_hub(dynamodb, table, hub, request, execution, caller, cluster):
        return 200, view(hub_records.get(dynamodb, table, hub))
    workflow_runs.start(clients, settings, hub, "provision", execution, {"hub_id": hub, "request": accepted}, accepted)
    return 202, view(hub_records.get(dynamodb, table, hub))


def get(clients: Clients, settings: Settings, hub: str) -> tuple[int, dict]:
    return 200, view(_record(clients, settings, hub))


def list_hubs(clients: Clients, settings: Settings, query: dict[str, str]) -> tuple[int, dict]:
    """A page of hubs (``limit``, ``status``), and the ``next`` token while there are more."""
    limit, status, start = api_input.page_query(query)
    records, last = hub_records.scan(clients("dynamodb"), settings.hub_table_name, limit, status, start)
    return 200, {"hubs": [summary(r) for r in records], "next": api_input.encode_token(last) if last else None}


def update(clients: Clients, settings: Settings, hub: str, body: dict, now: datetime) -> tuple[int, dict]:
    """Change the term end, scaling window, node sizes, reminder or ``archive_images`` of a READY hub (applied now)
    or a FAILED one (used by the next retry)."""
    changes = api_input.changes(body)
    record = _record(clients, settings, hub)
    if record["status"] not in ("READY", "FAILED"):
        raise ApiError(409, "HubBusy", f"hub {hub} is {record['status']}; it can be changed when READY or FAILED",
                       hub_status=record["status"])
    changed = api_input.parse_request(changes.apply(record["request"]), settings)
    dynamodb, table, fields = clients("dynamodb"), settings.hub_table_name, {}
    if record["status"] == "READY":
        direction = (record.get("scale") or {}).get("direction", "up")
        if changed.nodes != HubRequest.stored(record["request"]).nodes:
            try:
                fields["scale"] = scaling.apply(clients("eks"), hub_names.recorded_cluster(record), changed, direction,
                                                now)
            except NodegroupBusy as error:
                raise ApiError(409, "NodegroupBusy", f"{error}; try again in a few minutes") from None
        fields["schedules"] = hub_schedules.replace(clients("scheduler"), settings, hub, changed, now)
        fields["retire_at"] = hub_schedules.teardown_time(changed).isoformat()
    hub_records.update(dynamodb, table, hub, request=changed.model_dump(mode="json"), **fields)
    return 200, view(hub_records.get(dynamodb, table, hub))


def retire(clients: Clients, settings: Settings, hub: str, caller: str, now: datetime) -> tuple[int, dict]:
    """Start the teardown (202); a hub already retiring returns its running teardown, a retired one is 200.

    A RETIRING hub whose teardown is gone (stopped, failed, never started, its end not recorded) gets a new one.
    """
    record = _record(clients, settings, hub)
    if record["status"] == "RETIRED":
        return 200, view(record)
    if record["status"] == "RETIRING" and workflow_runs.run_end(clients("stepfunctions"), record, now) is None:
        return 202, view(record)
    return _teardown(clients, settings, record, f"retired through the API by {caller}", now)


def retry(clients: Clients, settings: Settings, hub: str, caller: str, now: datetime) -> tuple[int, dict]:
    """Start the failed workflow again (202): provisioning reuses what exists, a teardown goes on.

    A hub still PROVISIONING or RETIRING whose run is gone (its end not recorded) counts as FAILED.
    """
    record = _record(clients, settings, hub)
    if record["status"] != "FAILED" and not (record["status"] in ("PROVISIONING", "RETIRING") and
                                             workflow_runs.run_end(clients("stepfunctions"), record, now)):
        raise ApiError(409, "HubNotFailed", f"hub {hub} is {record['status']}; only a FAILED hub (or one whose run "
                       "has ended without recording it) can be retried", hub_status=record["status"])
    if record.get("workflow") == "teardown" or record["status"] == "RETIRING":
        return _teardown(clients, settings, record, f"teardown retried through the API by {caller}", now)
    request = api_input.parse_request(record["request"], settings)  # today's date and the stage's limits again
    accepted = request.model_dump(mode="json")
    execution = workflow_runs.execution_arn(settings.provision_state_machine_arn, hub)
    if not workflow_runs.claim(clients("dynamodb"), settings.hub_table_name, hub, record["status"], "PROVISIONING",
                               "provision", execution, record.get("execution_arn")):
        return 202, view(_record(clients, settings, hub))
    workflow_runs.start(clients, settings, hub, "provision", execution, {"hub_id": hub, "request": accepted},
                        accepted)
    return 202, view(_record(clients, settings, hub))


def check(clients: Clients, settings: Settings, hub: str, caller: str, now: datetime) -> tuple[int, dict]:
    """Launch the hub's test repository as a student would (202): the result goes on the record
    (``launch_check``) and to Slack. A check already running is answered as it is."""
    from chalicelib import launch_check

    record = _record(clients, settings, hub)
    if record["status"] != "READY":
        raise ApiError(409, "HubNotReady", f"hub {hub} is {record['status']}; only a READY hub can be checked",
                       hub_status=record["status"])
    try:
        launch_check.start_run(clients("stepfunctions"), clients("dynamodb"), settings, record, "on demand", now)
    except launch_check.LaunchCheckNotStarted as error:
        raise ApiError(503, "CheckNotStarted", f"{error}; try again") from None
    return 202, view(_record(clients, settings, hub))


def _teardown(clients: Clients, settings: Settings, record: dict, reason: str, now: datetime) -> tuple[int, dict]:
    hub = record["hub_id"]
    execution = workflow_runs.execution_arn(settings.teardown_state_machine_arn, hub)
    if not workflow_runs.claim(clients("dynamodb"), settings.hub_table_name, hub, record["status"], "RETIRING",
                               "teardown", execution, record.get("execution_arn")):
        return 202, view(_record(clients, settings, hub))  # another request started it first
    sfn = clients("stepfunctions")
    if record["status"] == "PROVISIONING" and record.get("execution_arn") and \
            workflow_runs.run_end(sfn, record, now) is None:  # a provisioning that ended is left as it ended
        workflow_runs.stop(sfn, record["execution_arn"], reason)
    workflow_runs.start(clients, settings, hub, "teardown", execution, {"hub_id": hub, "reason": reason},
                        record["request"])
    return 202, view(_record(clients, settings, hub))


def _record(clients: Clients, settings: Settings, hub: str) -> dict:
    try:
        return hub_records.get(clients("dynamodb"), settings.hub_table_name, api_input.hub_id(hub))
    except hub_records.HubNotFound:
        raise ApiError(404, "HubNotFound", f"no hub {hub}", "hub_id") from None
