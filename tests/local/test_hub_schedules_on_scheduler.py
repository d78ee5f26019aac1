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
