"""A hub's schedules on the stack's EventBridge Scheduler: created, replaced when the request changes, deleted."""
import uuid
from datetime import date, datetime, timedelta, timezone

from chalicelib import hub_schedules
from chalicelib.hub_request import HubRequest
from chalicelib.settings import Settings
from tests.local.test_provision_workflow import hub_request


def test_changing_the_term_end_and_the_scaling_window_replaces_the_schedules(stack):
    settings = Settings.from_env(stack.seeded.environment)
    scheduler, course = stack.client("scheduler"), f"s{uuid.uuid4().hex[:6]}"
    hub_id, now = f"hub-{course}", datetime.now(timezone.utc)
    first = HubRequest.stored({**hub_request(stack, course), "scaling": {"down_at": "21:00", "up_at": "06:30"}})
    hub_schedules.replace(scheduler, settings, hub_id, first, now)
    assert hub_schedules.existing(scheduler, settings.schedule_group, hub_id) == [
        f"{hub_id}-{p}" for p in ("reminder", "scale-down", "scale-up", "teardown")]

    later = (date.today() + timedelta(days=150)).isoformat()
    second = HubRequest.stored({**hub_request(stack, course), "term_end": later, "timezone": "Europe/Berlin"})
    planned = hub_schedules.replace(scheduler, settings, hub_id, second, now)
    assert sorted(planned) == [f"{hub_id}-reminder", f"{hub_id}-teardown"]
    assert hub_schedules.existing(scheduler, settings.schedule_group, hub_id) == sorted(planned)  # scaling gone
    teardown = scheduler.get_schedule(GroupName=settings.schedule_group, Name=f"{hub_id}-teardown")
    assert teardown["ScheduleExpression"] == f"at({later}T23:00:00)"
    assert teardown["ScheduleExpressionTimezone"] == "Europe/Berlin"
    assert teardown["Target"]["Arn"] == stack.seeded.state_machines["teardown"]

    assert hub_schedules.delete_all(scheduler, settings.schedule_group, hub_id) == sorted(planned)
    assert hub_schedules.existing(scheduler, settings.schedule_group, hub_id) == []
    assert hub_schedules.delete_all(scheduler, settings.schedule_group, hub_id) == []  # nothing left: still fine


def test_running_the_scheduling_step_again_replaces_the_hubs_schedules(stack):
    """What a rerun of provisioning does at "Schedule the hub's life": the function, invoked as the workflow does."""
    import json

    from chalicelib import hub_records

    course = f"t{uuid.uuid4().hex[:6]}"
    hub_id, group = f"hub-{course}", stack.seeded.schedule_group
    with_scaling = {**hub_request(stack, course), "scaling": {"down_at": "21:00", "up_at": "06:30"}}
    hub_records.create(stack.client("dynamodb"), stack.seeded.environment["HUB_TABLE_NAME"], hub_id, with_scaling)
    lam, scheduler = stack.client("lambda"), stack.client("scheduler")

    def schedule(request):
        answer = lam.invoke(FunctionName=f"coursehub-{stack.config.stage}-schedule_lifecycle", Payload=json.dumps(
            {"hub_id": hub_id, "request": request, "step": "Schedule the hub's life"}))
        assert "FunctionError" not in answer, answer["Payload"].read()
        return json.loads(answer["Payload"].read())

    try:
        assert schedule(with_scaling)["schedules"] == [f"{hub_id}-{p}" for p in ("reminder", "scale-down",
                                                                                 "scale-up", "teardown")]
        assert schedule(hub_request(stack, course))["scaling"] == "always on"  # scaling dropped on the rerun
        assert hub_schedules.existing(scheduler, group, hub_id) == [f"{hub_id}-reminder", f"{hub_id}-teardown"]
    finally:
        hub_schedules.delete_all(scheduler, group, hub_id)
