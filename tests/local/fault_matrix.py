"""The fault matrix: every AWS operation a workflow calls, failed transiently and permanently, on the local stack.

The operations come from a watched clean run (``aws_calls.watching``), so the matrix follows the code. A cell
is one operation of one workflow with one kind of error:

- transient: the service's throttling answer on the operation's first calls; the run still ends READY (or
  RETIRED), and every injected error was answered;
- permanent: the service's answer to a missing permission; the run ends FAILED naming the step whose Task got
  the error, with the cause in the record and on Slack, and the API can take the hub on from there.

Transient cells share one run per workflow; permanent cells are chained on one hub per workflow, each cell one
run. So the whole matrix costs a few hub lives: test_fault_matrix_provisioning.py (the cells of provisioning's
operations before the chart installs, denied; the teardown's, throttled), test_fault_matrix_after_charts.py
(provisioning's after the installs, denied: each such run installs the charts again), and
test_fault_matrix_teardown.py (provisioning's, throttled; the teardown's, denied).
"""
from __future__ import annotations

import json
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from chalicelib import aws_retry, hub_records
from chalicelib.handlers import _RETRIES
from coursehub import statemachines, task_errors
from coursehub_local import aws_calls, faults
from tests.conftest import eventually
from tests.local.test_provision_workflow import ecr_request, report_delivered

# The app's clients try each call this many times before the function sees the error (chalicelib/handlers), and
# then fails with AwsTransientError, which the Task's Retry retries (coursehub/task_errors.py).
CLIENT_ATTEMPTS = _RETRIES.retries["total_max_attempts"]


def is_transient(service: str, operation: str, kind: str) -> bool:
    """Whether the functions treat the stack's answer of this kind (``faults.preset``) as transient (retried)."""
    code, status, _ = faults.preset(service, operation, kind)
    error = ClientError({"Error": {"Code": code, "Message": "injected"},
                         "ResponseMetadata": {"HTTPStatusCode": status}}, "AnyOperation")
    return aws_retry.transient(error) is not None


def steps_by_function(workflow: str) -> dict[str, list[str]]:
    """Each function the workflow's Tasks invoke -> the names of those Task states."""
    (source,) = [s for s in statemachines.sources() if s.name == workflow]
    functions = {statemachines.function_placeholder(f): f for f in [*task_errors.TRANSIENT_ERRORS]}
    steps: dict[str, list[str]] = {}
    for state, resource in statemachines.task_resources(statemachines.definition(source)):
        placeholder = statemachines.PLACEHOLDER.fullmatch(resource)
        if placeholder and placeholder.group(1) in functions:
            steps.setdefault(functions[placeholder.group(1)], []).append(state)
    return steps


def operations(calls: list[aws_calls.Call], workflow: str) -> OrderedDict[tuple[str, str], str]:
    """(service, operation) -> the function that called it first, in the order of first calls, for the
    workflow's Task functions only."""
    functions = steps_by_function(workflow)
    found: OrderedDict[tuple[str, str], str] = OrderedDict()
    for call in calls:
        if call.function in functions:
            found.setdefault((call.service, call.operation), call.function)
    return found


def split_at_charts(calls: list[aws_calls.Call], ops: OrderedDict) -> tuple[OrderedDict, OrderedDict]:
    """Provisioning's operations first called before the chart installs began, and those first called after (each
    of these cells' runs installs the charts again: they are the costly ones)."""
    functions = [c.function for c in calls]
    assert "install_release" in functions, "the clean run installed no chart"
    installs = functions.index("install_release")
    later = {(c.service, c.operation) for c in calls[installs:]} - {(c.service, c.operation) for c in calls[:installs]}
    return (OrderedDict((op, f) for op, f in ops.items() if op not in later),
            OrderedDict((op, f) for op, f in ops.items() if op in later))


def api_operations(calls: list[aws_calls.Call]) -> set[tuple[str, str]]:
    """What the API's handler called: a fault on one of these would be taken by the API call starting a run."""
    return {(c.service, c.operation) for c in calls if c.function == "api_handler"}


def record_of(stack, hub_id: str) -> dict:
    return hub_records.get(stack.client("dynamodb"), stack.seeded.environment["HUB_TABLE_NAME"], hub_id)


def run_end(stack, execution_arn: str, timeout: float = 180) -> dict:
    """The run once it ended, and once a failed run's end was reported (report_execution_end calls AWS too)."""
    sfn = stack.client("stepfunctions")
    described = eventually(lambda: (d := sfn.describe_execution(executionArn=execution_arn))["status"] != "RUNNING"
                           and d, timeout=timeout)
    if described["status"] != "SUCCEEDED":  # the rule passes failed, timed-out and aborted runs only
        report_delivered(stack, execution_arn)
    return described


def start(stack, workflow: str, hub_id: str, request: dict | None = None) -> str:
    """Start a run through Step Functions, with the input the API gives it."""
    body = {"hub_id": hub_id, "request": request} if workflow == "provision" else {
        "hub_id": hub_id, "reason": "the fault matrix retires it"}
    return stack.client("stepfunctions").start_execution(
        stateMachineArn=stack.seeded.state_machines[workflow], input=json.dumps(body))["executionArn"]


def clean_life(stack, api, course: str) -> tuple[list[aws_calls.Call], list[aws_calls.Call]]:
    """A hub created and retired through the API, no fault: the calls of its provisioning and of its teardown."""
    hub_id = f"hub-{course}"
    with aws_calls.watching() as provisioning:
        answer = api.create(ecr_request(stack, course))
        assert answer.status == 202, answer.body
        described = run_end(stack, answer.body["execution_arn"])
    assert described["status"] == "SUCCEEDED", described.get("cause")
    with aws_calls.watching() as teardown:
        answer = api.retire(hub_id)
        assert answer.status == 202, answer.body
        described = run_end(stack, record_of(stack, hub_id)["execution_arn"])
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert_retired_clean(stack, hub_id)
    return provisioning, teardown


def assert_retired_clean(stack, hub_id: str) -> None:
    record = record_of(stack, hub_id)
    assert record["status"] == "RETIRED" and record["audit"]["clean"], record.get("audit") or record.get("error")
    assert f"coursehub-{hub_id.removeprefix('hub-')}" not in stack.client("eks").list_clusters()["clusters"]


@dataclass
class Cell:
    workflow: str
    service: str
    operation: str
    kind: str
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0  # real time of its own run (a permanent cell)

    def __str__(self) -> str:
        took = f" ({self.seconds:.1f} s)" if self.seconds else ""
        outcome = "; ".join(self.problems) or "ok"
        return f"{self.workflow} {self.service}:{self.operation} {self.kind}{took}: {outcome}"


def denied_chain(stack, hub_id: str, workflow: str, ops: OrderedDict, launch) -> list[Cell]:
    """Deny each operation once, in the order of first calls: each run ends FAILED at the step calling it, and the
    next run goes on to the next operation. ``launch(index, (service, operation), cell)`` starts a cell's run and
    returns its execution ARN (None, with a problem on the cell, if it could not)."""
    steps = steps_by_function(workflow)
    cells = []
    for index, (service, operation) in enumerate(ops):
        cell = Cell(workflow, service, operation, "permanent")
        cells.append(cell)
        before = len(stack.slack.texts())
        fault = stack.faults.inject(service, operation, kind="denied")
        code = fault.code
        began = time.monotonic()
        try:
            with aws_calls.watching() as calls:
                arn = launch(index, (service, operation), cell)
                described = run_end(stack, arn) if arn else None
        finally:
            stack.faults.clear()
        cell.seconds = time.monotonic() - began
        if described is None:
            continue
        if fault.answered != 1:
            cell.problems.append(f"the fault was answered {fault.answered} times")
        if [c for c in calls if c.function == "api_handler" and (c.service, c.operation) == (service, operation)]:
            cell.problems.append("the API's own call may have taken the fault")
        caller = next((c.function for c in calls if (c.service, c.operation) == (service, operation)
                       and c.function in steps), None)
        record = record_of(stack, hub_id)
        error = record.get("error") or {}
        if described["status"] != "FAILED" or record["status"] != "FAILED":
            cell.problems.append(f"run {described['status']} ({described.get('error')}: "
                                 f"{(described.get('cause') or '')[:300]}), hub {record['status']}")
        expected = steps.get(caller, [])
        if error.get("step") not in expected:
            cell.problems.append(f"step named {error.get('step')!r}, not one of {caller}'s {expected}")
        if code not in (error.get("cause") or ""):
            cell.problems.append(f"record's cause {error.get('cause')!r} does not name {code}")
        texts = stack.slack.texts()[before:]
        if not [t for t in texts if f'failed at step "{error.get("step")}"' in t and code in t]:
            cell.problems.append(f"no Slack message naming the step and {code}: {texts[-2:]}")
    return cells


def launched(stack, api, method: str, path: str, hub_id: str, cell: Cell, body=None) -> str | None:
    """The execution an API call started, or None with the API's answer as the cell's problem."""
    answer = api.call(method, path, body=body, check=False)
    if answer.status != 202:
        cell.problems.append(f"the API answered {answer.status}: {answer.body}")
        return None
    return record_of(stack, hub_id)["execution_arn"]


def throttled_run(stack, workflow: str, ops: OrderedDict, launch) -> tuple[list[Cell], dict]:
    """One run with every operation throttled (``throttled``), started by ``launch()`` (its execution ARN): the
    cells, with a problem where an injected error went unanswered, and the run as it ended. The operations
    throttled on every client attempt must have reached their Task's Retry."""
    injected = throttled(stack, workflow, ops)
    try:
        arn = launch()
        described = run_end(stack, arn)
    finally:
        stack.faults.clear()
    cells = judge_throttled(injected)
    past_the_client = [f for _, f in injected if f.times == CLIENT_ATTEMPTS]
    assert task_retries(stack, arn) >= len(past_the_client) > 0, "a Task's Retry should have answered them"
    return cells, described


def throttled(stack, workflow: str, ops: OrderedDict) -> list[tuple[Cell, object]]:
    """Throttle every operation at once. In each Task function that first calls several of them, the last one is
    throttled on all the client's attempts: the function raises AwsTransientError and the Task's Retry runs it
    again, repeating the calls it made before (which must not trip over what they did the first time). The others
    are throttled once, which the client's own retry answers (that every Task retries AwsTransientError is
    checked on the ASL by tests/coursehub/test_task_errors.py). So one run holds every cell without several
    cells' errors using up a Task's retries, and each throttle costs one or two backoff sleeps of the client
    (real time)."""
    last = {function: op for op, function in ops.items()}
    several = {function for function in last if list(ops.values()).count(function) > 1}
    injected = []
    for (service, operation), function in ops.items():
        deep = function in several and last[function] == (service, operation)
        injected.append((Cell(workflow, service, operation, "transient"),
                         stack.faults.inject(service, operation, times=CLIENT_ATTEMPTS if deep else 1,
                                             kind="throttled")))
    return injected


def task_retries(stack, execution_arn: str) -> int:
    """How many times a Task of the run failed with AwsTransientError (and so its Retry ran)."""
    events = stack.client("stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)
    return sum(1 for event in events["events"] for key, details in event.items()
               if key.endswith("FailedEventDetails") and details.get("error") == task_errors.AWS)


def judge_throttled(injected) -> list[Cell]:
    for cell, fault in injected:
        if fault.answered != fault.times:
            cell.problems.append(f"throttled {fault.answered} of {fault.times} times")
    return [cell for cell, _ in injected]


def report(title: str, cells: list[Cell]) -> None:
    print(f"fault matrix: {len(cells)} {title} cells")
    for cell in cells:
        print(" ", cell)


def known_operations() -> dict[str, set[tuple[str, str]]]:
    """Operations each workflow must call: a derived list without them means the derivation broke."""
    return {
        "provision": {("eks", "CreateCluster"), ("eks", "CreateNodegroup"), ("eks", "CreateAddon"),
                      ("eks", "AssociateAccessPolicy"), ("route53", "ChangeResourceRecordSets"),
                      ("scheduler", "CreateSchedule"), ("dynamodb", "UpdateItem"),
                      ("secretsmanager", "GetSecretValue"), ("ecr", "CreateRepositoryCreationTemplate"),
                      ("ecr", "GetAuthorizationToken")},
        "teardown": {("eks", "DeleteNodegroup"), ("eks", "DeleteCluster"), ("route53", "ChangeResourceRecordSets"),
                     ("scheduler", "DeleteSchedule"), ("ec2", "DescribeVolumes"), ("dynamodb", "UpdateItem"),
                     ("ecr", "DeleteRepositoryCreationTemplate"), ("ecr", "DescribeRepositories")},
    }
