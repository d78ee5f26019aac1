"""The ``coursehub`` command against the local stack's REST API, as a person at a terminal uses it.

One stack for the module. Two hubs are provisioned in full: hub-cs101 from
examples/cs101.json, followed to READY by ``status --watch``; hub-cs102 from
flags, failed once by an injected AccessDeniedException, then retried to READY.
"""
import io
import json
import os
import re
import urllib.error
from contextlib import redirect_stderr, redirect_stdout
from datetime import date, timedelta

import pytest

from coursehub import hub_commands
from coursehub.api_client import ApiClient
from coursehub.cli import main
from coursehub_local.stack import ROOT, LocalStack, StackConfig
from tests.conftest import eventually

pytestmark = pytest.mark.own_stack

WATCH = ("--watch", "--interval", "0.5", "--timeout", "120")
TERM_END = (date.today() + timedelta(days=100)).isoformat()
FLAGS = ("--course-id", "cs102", "--domain", "cs102.courses.example.edu", "--term-end", TERM_END,
         "--image-prefix", "coursehub/cs102-", "--acme-email", "admin@example.edu", "--timezone", "Europe/Berlin",
         "--instance-type", "m5.large", "--min", "0", "--desired", "1", "--max", "2")


def run(*args: str, cwd) -> tuple[int, str, str]:
    """``coursehub ARGS`` in ``cwd``: exit code, stdout, stderr."""
    out, err, previous = io.StringIO(), io.StringIO(), os.getcwd()
    os.chdir(cwd)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exit:
                code = exit.code
    finally:
        os.chdir(previous)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """A local stack of its own whose details are in <dir>/.coursehub/local.json, as `coursehub local up` writes
    them (one stack runs per process: this module runs before the session's shared stack starts, or, in
    ``make test``, in a process of its own)."""
    directory = tmp_path_factory.mktemp("terminal")
    stack = LocalStack(StackConfig(time_scale=600, state_file=directory / ".coursehub" / "local.json"))
    stack.start()
    yield stack, directory
    stack.stop()


@pytest.fixture(scope="module")
def runs(local):
    """The commands that provision: what each printed, in order."""
    stack, directory = local
    request = json.loads((ROOT / "examples" / "cs101.json").read_text())
    (directory / "cs101.json").write_text(json.dumps({**request, "term_end": TERM_END}))
    results = {"create file": run("create", "cs101.json", "--local", cwd=directory),
               "status watch": run("status", "hub-cs101", "--local", *WATCH, cwd=directory)}
    stack.faults.inject("eks", "CreateNodegroup", times=1, code="AccessDeniedException", status=400,
                        message="not authorized to perform: eks:CreateNodegroup")
    results["create flags"] = run("create", *FLAGS, "--local", *WATCH, cwd=directory)
    stack.faults.clear()
    results["retry"] = run("retry", "hub-cs102", "--local", *WATCH, cwd=directory)
    return results


def api(local) -> ApiClient:
    return ApiClient.local(local[0].details())


def test_create_from_a_request_file_starts_provisioning(runs):
    code, out, _ = runs["create file"]
    assert code == 0
    assert out.startswith("hub-cs101: provisioning started (PROVISIONING); Idempotency-Key ")


def test_status_watch_prints_each_step_with_progress_until_ready(runs):
    code, out, err = runs["status watch"]
    assert code == 0, out + err
    assert re.search(r"^  00:\d\d hub-cs101: provisioning, \d+ steps \(PROVISIONING\)$", out, re.M)
    for step in ("Create the cluster", "Create the node group", "Install BinderHub", "Publish DNS",
                 "Verify the hub over HTTPS", "Schedule the hub's life"):
        assert re.search(rf"^  \d\d:\d\d \[\s*\d+/\d+\] done     {re.escape(step)} \(\d+ s", out, re.M), step
    total = re.search(r"provisioning, (\d+) steps", out).group(1)
    assert f"[{total}/{total}] done     Schedule the hub's life" in out
    assert out.rstrip().endswith("hub-cs101 is READY: https://binder.courses.example.edu (BinderHub), "
                                 "https://hub.binder.courses.example.edu (JupyterHub)")


def test_a_failed_step_ends_the_watch_with_exit_1_naming_the_step_and_cause(runs):
    code, out, _ = runs["create flags"]
    assert code == 1
    assert out.startswith("hub-cs102: provisioning started")
    assert re.search(r"failed   Create the node group", out)
    assert ("failed at step 'Create the node group': AccessDeniedException: An error occurred "
            "(AccessDeniedException) when calling the CreateNodegroup operation: not authorized") in out
    assert "try again with: coursehub retry hub-cs102" in out


def test_retry_runs_the_failed_workflow_again_to_ready(runs, local):
    code, out, err = runs["retry"]
    assert code == 0, out + err
    assert out.startswith("hub-cs102: provision started again (PROVISIONING)")
    assert "is READY: https://binder.cs102.courses.example.edu" in out
    request = api(local).get("hub-cs102").body["request"]
    assert request["timezone"] == "Europe/Berlin" and request["image_prefix"] == "coursehub/cs102-"
    assert request["nodes"] == {"instance_type": "m5.large", "min_size": 0, "desired_size": 1, "max_size": 2}


def test_status_prints_the_hub_and_json_prints_the_api_answer(runs, local):
    code, out, _ = run("status", "hub-cs101", "--local", cwd=local[1])
    assert code == 0
    assert out.startswith("hub-cs101  READY")
    assert "binder     https://binder.courses.example.edu" in out
    assert "nodes      m5.xlarge, min 1, desired 2, max 4" in out
    assert "schedule   hub-cs101-teardown: at(" in out
    code, out, _ = run("--local", "status", "hub-cs101", "--json", cwd=local[1])  # options before the command too
    assert code == 0 and json.loads(out)["urls"]["binder"] == "https://binder.courses.example.edu"


def test_list_follows_the_pages_and_filters_by_status(runs, local):
    code, out, _ = run("list", "--local-file", str(local[1] / ".coursehub" / "local.json"), "--page-size", "1",
                       cwd=ROOT)
    assert code == 0
    assert out.splitlines()[0].split() == ["HUB", "STATUS", "STEP", "RETIRE", "AT", "BINDERHUB"]
    assert {line.split()[0] for line in out.splitlines()[1:]} >= {"hub-cs101", "hub-cs102"}
    code, out, _ = run("list", "--local", "--status", "FAILED", "--json", cwd=local[1])
    assert code == 0 and json.loads(out) == {"hubs": []}


def test_extend_moves_the_teardown_schedule(runs, local):
    new_end = (date.today() + timedelta(days=150)).isoformat()
    code, out, _ = run("extend", "hub-cs101", "--term-end", new_end, "--local", cwd=local[1])
    assert code == 0
    assert out.startswith(f"hub-cs101: the term ends {new_end}; the hub retires at {new_end}T23:00:00")
    assert api(local).get("hub-cs101").body["retire_at"].startswith(f"{new_end}T23:00:00")
    scheduler = local[0].client("scheduler")
    found = scheduler.list_schedules(NamePrefix="hub-cs101-teardown")["Schedules"][0]
    schedule = scheduler.get_schedule(Name=found["Name"], GroupName=found["GroupName"])
    assert schedule["ScheduleExpression"] == f"at({new_end}T23:00:00)"


def test_scale_resizes_the_node_group_and_sets_the_nightly_window(runs, local):
    code, out, err = run("scale", "hub-cs101", "--min", "0", "--desired", "1", "--max", "3",
                         "--down-at", "19:00", "--up-at", "08:00", "--local", cwd=local[1])
    assert code == 0, err
    assert "nodes m5.xlarge, min 0, desired 1, max 3" in out
    assert "scaling down at 19:00, up at 08:00 (America/New_York, weekdays only)" in out
    eks = local[0].client("eks")
    nodegroup = eks.list_nodegroups(clusterName="coursehub-dev-cs101")["nodegroups"][0]

    def resized():
        """The node group's update (UPDATING for a few simulated minutes) has applied the new sizes."""
        found = eks.describe_nodegroup(clusterName="coursehub-dev-cs101", nodegroupName=nodegroup)["nodegroup"]
        return found["status"] == "ACTIVE" and found["scalingConfig"] == {"minSize": 0, "desiredSize": 1, "maxSize": 3}
    eventually(resized)
    assert {"hub-cs101-scale-down", "hub-cs101-scale-up"} <= set(api(local).get("hub-cs101").body["schedules"])

    code, out, _ = run("scale", "hub-cs101", "--always-on", "--local", cwd=local[1])
    assert code == 0 and "scaling always on" in out


@pytest.mark.parametrize("args", [("--down-at", "19:00"), ("--always-on", "--down-at", "19:00", "--up-at", "08:00"),
                                  (), ("--down-at", "7pm", "--up-at", "08:00")])
def test_scale_without_a_complete_change_is_a_usage_error(local, args):
    assert run("scale", "hub-cs101", *args, "--local", cwd=local[1])[0] == 2


def test_retire_watch_follows_the_teardown_to_retired(runs, local):
    code, out, err = run("retire", "hub-cs102", "--local", *WATCH, cwd=local[1])
    assert code == 0, out + err
    assert out.startswith("hub-cs102: teardown started")
    assert re.search(r"\[\s*\d+/\d+\] done     Audit what is left", out)
    assert out.rstrip().endswith("hub-cs102 is RETIRED; audit: nothing left behind (12 kinds checked)")
    assert api(local).get("hub-cs102").body["audit"]["clean"] is True


def test_a_refused_request_prints_the_code_message_and_field_and_exits_1(local):
    code, out, err = run("create", *FLAGS[:-8], "--instance-type", "p4d.24xlarge", "--local", cwd=local[1])
    assert code == 1 and out == ""
    assert err.startswith("coursehub create: InvalidRequest (HTTP 400): nodes.instance_type: ")
    assert "instance type 'p4d.24xlarge' is not allowed here" in err
    assert "  field: nodes.instance_type" in err


def test_create_tries_again_after_a_network_error_with_the_same_idempotency_key(runs, local, monkeypatch):
    sent, call = [], ApiClient.call

    def flaky(self, method, path, **kwargs):
        sent.append((kwargs.get("headers") or {}).get("Idempotency-Key"))
        if len(sent) == 1:
            raise urllib.error.URLError(ConnectionResetError("connection reset by peer"))
        return call(self, method, path, **kwargs)

    monkeypatch.setattr(ApiClient, "call", flaky)
    monkeypatch.setattr(hub_commands, "CREATE_BACKOFF_SECONDS", 0.01)
    code, out, err = run("create", "cs101.json", "--local", cwd=local[1])
    assert code == 0, err
    assert "cannot reach the API: connection reset by peer; trying again with the same Idempotency-Key" in err
    assert len(sent) == 2 and sent[0] == sent[1] and sent[0]
    assert out.startswith("hub-cs101: the course's hub already exists (READY)")


def test_create_without_a_file_needs_the_required_flags(local):
    code, _, err = run("create", "--course-id", "cs9", "--local", cwd=local[1])
    assert code == 2 and "give a request file, or --domain, --term-end, --acme-email" in err


def test_local_without_the_state_file_names_it(tmp_path):
    code, out, err = run("status", "hub-cs101", "--local", cwd=tmp_path)
    assert code == 1 and out == ""
    assert err == ("coursehub status: no local stack: .coursehub/local.json not found; "
                   "start one with `coursehub local up`\n")


def test_without_an_api_url_or_local_it_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSEHUB_API_URL", raising=False)
    code, _, err = run("list", cwd=tmp_path)
    assert code == 2 and "give --api-url URL, set COURSEHUB_API_URL, or use --local" in err
