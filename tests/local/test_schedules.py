"""Schedules and scheduled rules fire their targets on the stack's clock."""
import json
import uuid
from datetime import timedelta

from tests.conftest import eventually

ROLE = "scheduler"


def pass_machine(stack):
    """A state machine that only records that it ran."""
    definition = {"StartAt": "Ran", "States": {"Ran": {"Type": "Pass", "End": True}}}
    return stack.client("stepfunctions").create_state_machine(
        name=f"target-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition),
        roleArn=stack.seeded.roles["states"])["stateMachineArn"]


def runs(stack, machine):
    return stack.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]


def schedule(stack, machine, expression, **extra):
    name = f"s-{uuid.uuid4().hex[:8]}"
    stack.client("scheduler").create_schedule(
        Name=name, GroupName=stack.seeded.schedule_group, ScheduleExpression=expression,
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": machine, "RoleArn": stack.seeded.roles[ROLE], "Input": json.dumps({"from": name})},
        **extra)
    return name


def at(moment):
    return f"at({moment.strftime('%Y-%m-%dT%H:%M:%S')})"


def test_an_at_schedule_an_hour_ahead_fires_once_when_the_clock_passes_it(stack):
    machine = pass_machine(stack)
    schedule(stack, machine, at(stack.clock.now() + timedelta(hours=1)))
    stack.clock.advance(30 * 60)
    assert runs(stack, machine) == []
    stack.clock.advance(45 * 60)
    eventually(lambda: len(runs(stack, machine)) == 1)
    stack.clock.advance(6 * 3600)
    assert len(runs(stack, machine)) == 1


def test_a_cron_schedule_fires_repeatedly_in_its_time_zone(stack):
    machine = pass_machine(stack)
    schedule(stack, machine, "cron(0 * * * ? *)", ScheduleExpressionTimezone="America/New_York")
    stack.clock.advance(3 * 3600)
    eventually(lambda: len(runs(stack, machine)) >= 3)
    seen = len(runs(stack, machine))
    stack.clock.advance(2 * 3600)
    eventually(lambda: len(runs(stack, machine)) >= seen + 2)


def test_a_deleted_schedule_never_fires(stack):
    machine = pass_machine(stack)
    name = schedule(stack, machine, at(stack.clock.now() + timedelta(hours=1)))
    stack.client("scheduler").delete_schedule(Name=name, GroupName=stack.seeded.schedule_group)
    stack.clock.advance(2 * 3600)
    other = pass_machine(stack)  # a control that proves the ticker ran meanwhile
    schedule(stack, other, at(stack.clock.now() + timedelta(minutes=5)))
    stack.clock.advance(10 * 60)
    eventually(lambda: len(runs(stack, other)) == 1)
    assert runs(stack, machine) == []


def test_an_at_schedule_with_delete_after_completion_is_removed(stack):
    machine = pass_machine(stack)
    name = schedule(stack, machine, at(stack.clock.now() + timedelta(minutes=10)), ActionAfterCompletion="DELETE")
    stack.clock.advance(20 * 60)
    eventually(lambda: len(runs(stack, machine)) == 1)
    listed = stack.client("scheduler").list_schedules(GroupName=stack.seeded.schedule_group)["Schedules"]
    assert name not in [s["Name"] for s in listed]


def test_a_scheduled_rule_invokes_its_lambda_target(stack):
    events = stack.client("events")
    rule = f"r-{uuid.uuid4().hex[:8]}"
    events.put_rule(Name=rule, ScheduleExpression="rate(1 hour)")
    function = stack.client("lambda").get_function(FunctionName="coursehub-dev-notify_slack")
    events.put_targets(Rule=rule, Targets=[{"Id": "notify", "Arn": function["Configuration"]["FunctionArn"],
                                            "Input": json.dumps({"text": f"rule {rule} fired"})}])
    stack.clock.advance(3600)
    eventually(lambda: f"rule {rule} fired" in stack.slack.texts())
    events.remove_targets(Rule=rule, Ids=["notify"])
    events.delete_rule(Name=rule)
