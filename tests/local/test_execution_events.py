"""Step Functions status changes reach EventBridge rules on the stack in AWS's shape; StopExecution aborts at once."""
import json
import uuid

import pytest

from coursehub import event_rules
from tests.conftest import eventually

SOURCE = {"StartAt": "Which?", "States": {
    "Which?": {"Type": "Choice", "Default": "Done", "Choices": [
        {"Variable": "$.mode", "StringEquals": "fail", "Next": "Fail"},
        {"Variable": "$.mode", "StringEquals": "wait", "Next": "Wait"}]},
    "Fail": {"Type": "Fail", "Error": "Boom", "Cause": "the test asked for it"},
    "Wait": {"Type": "Wait", "Seconds": 3600, "Next": "Done"},
    "Done": {"Type": "Pass", "Result": {"ok": True}, "End": True}}}
SINK = {"StartAt": "Keep", "States": {"Keep": {"Type": "Pass", "End": True}}}  # its executions' inputs: the events
DETAIL = {"executionArn", "stateMachineArn", "name", "status", "startDate", "stopDate", "input", "inputDetails",
          "output", "outputDetails", "error", "cause"}


@pytest.fixture(scope="module")
def machines(stack):
    """A state machine to watch and a rule passing each of its status changes to a recording state machine."""
    sfn, events, name = stack.client("stepfunctions"), stack.client("events"), f"events-{uuid.uuid4().hex[:6]}"
    role = stack.seeded.roles["states"]
    source = sfn.create_state_machine(name=name, definition=json.dumps(SOURCE), roleArn=role)["stateMachineArn"]
    sink = sfn.create_state_machine(name=f"{name}-sink", definition=json.dumps(SINK), roleArn=role)["stateMachineArn"]
    events.put_rule(Name=name, EventPattern=json.dumps({"source": ["aws.states"], "detail": {
        "stateMachineArn": [source]}}))
    events.put_targets(Rule=name, Targets=[{"Id": "sink", "Arn": sink}])
    yield source, sink
    events.remove_targets(Rule=name, Ids=["sink"])
    events.delete_rule(Name=name)


def run(stack, machines, mode):
    return stack.client("stepfunctions").start_execution(stateMachineArn=machines[0],
                                                         input=json.dumps({"mode": mode}))["executionArn"]


def received(stack, machines, execution_arn, status=None):
    """The events the rule delivered for ``execution_arn`` (waiting for one with ``status``)."""
    sfn = stack.client("stepfunctions")

    def events():
        found = [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])
                 for e in sfn.list_executions(stateMachineArn=machines[1])["executions"]]
        found = [e for e in found if e["detail"]["executionArn"] == execution_arn]
        return found if status is None or status in [e["detail"]["status"] for e in found] else None
    return eventually(events)


def test_an_execution_reports_its_start_and_its_end_in_the_aws_shape(stack, machines):
    arn = run(stack, machines, "done")
    events = received(stack, machines, arn, "SUCCEEDED")
    assert sorted(e["detail"]["status"] for e in received(stack, machines, arn, "RUNNING")) == ["RUNNING", "SUCCEEDED"]
    (ended,) = [e for e in events if e["detail"]["status"] == "SUCCEEDED"]
    assert (ended["source"], ended["detail-type"]) == ("aws.states", "Step Functions Execution Status Change")
    assert ended["resources"] == [arn] and ended["region"] == "us-east-1" and ended["time"].endswith("Z")
    detail = ended["detail"]
    assert set(detail) == DETAIL
    assert (detail["stateMachineArn"], detail["name"]) == (machines[0], arn.rsplit(":", 1)[-1])
    assert isinstance(detail["startDate"], int) and detail["startDate"] <= detail["stopDate"]
    assert (detail["input"], detail["output"], detail["error"]) == ('{"mode":"done"}', '{"ok":true}', None)


def test_a_failed_execution_carries_its_error_and_cause(stack, machines):
    arn = run(stack, machines, "fail")
    (failed,) = [e["detail"] for e in received(stack, machines, arn, "FAILED") if e["detail"]["status"] == "FAILED"]
    assert (failed["error"], failed["cause"], failed["output"]) == ("Boom", "the test asked for it", None)


def test_stop_execution_aborts_at_once_with_its_stop_date_and_one_event(stack, machines):
    sfn = stack.client("stepfunctions")
    arn = run(stack, machines, "wait")
    received(stack, machines, arn, "RUNNING")
    stopped = sfn.stop_execution(executionArn=arn)["stopDate"]
    described = sfn.describe_execution(executionArn=arn)
    assert (described["status"], described["stopDate"]) == ("ABORTED", stopped)
    (aborted,) = [e["detail"] for e in received(stack, machines, arn, "ABORTED") if e["detail"]["status"] == "ABORTED"]
    assert aborted["stopDate"] == int(stopped.timestamp() * 1000) and aborted["error"] is None
    assert sfn.stop_execution(executionArn=arn)["stopDate"] == stopped  # a second stop moves nothing, reports nothing
    assert len(received(stack, machines, arn)) == 2  # RUNNING, ABORTED


def test_the_stack_has_the_templates_execution_end_rule_with_its_own_arns(stack):
    events, machines = stack.client("events"), stack.seeded.state_machines
    (pattern,) = [r["EventPattern"] for r in event_rules.rules().values()]
    rule = events.describe_rule(Name="coursehub-dev-ExecutionEndRule")
    assert json.loads(rule["EventPattern"]) == event_rules.resolve(pattern, {
        "ProvisionStateMachine": machines["provision"], "TeardownStateMachine": machines["teardown"]})
    (target,) = events.list_targets_by_rule(Rule="coursehub-dev-ExecutionEndRule")["Targets"]
    assert target["Arn"].endswith(":function:coursehub-dev-report_execution_end")
