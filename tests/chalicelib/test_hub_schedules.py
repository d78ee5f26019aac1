"""A hub's schedules: what is planned from the request, in the course's time zone."""
import json
from datetime import datetime, timezone

from chalicelib import hub_schedules, slack
from chalicelib.hub_request import HubRequest
from chalicelib.settings import Settings
from tests.chalicelib.test_hub_request import GOOD

SETTINGS = Settings(stage="dev", hub_table_name="hubs", slack_webhook_secret_arn=GOOD["slack_webhook_secret_arn"],
                    schedule_group="coursehub-dev", scheduler_role_arn="arn:aws:iam::123456789012:role/coursehub-s",
                    teardown_state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:coursehub-dev-teardown",
                    scale_function_arn="arn:aws:lambda:us-east-1:123456789012:function:coursehub-dev-scale_hub",
                    notify_function_arn="arn:aws:lambda:us-east-1:123456789012:function:coursehub-dev-notify_slack",
                    registry_login_function_arn="arn:aws:lambda:us-east-1:123456789012:function:"
                                                "coursehub-dev-renew_registry_login")
NOW = datetime(2026, 11, 27, 12, tzinfo=timezone.utc)


def request(**changes):
    return HubRequest.stored({**GOOD, "timezone": "Europe/Berlin", **changes})


def test_the_teardown_runs_at_the_end_of_the_last_day_of_term_in_the_course_time_zone():
    (teardown, reminder) = hub_schedules.plan("hub-cs101", request(), SETTINGS, NOW)
    assert teardown.name == "hub-cs101-teardown" and teardown.expression == "at(2027-03-01T23:00:00)"
    assert teardown.timezone == "Europe/Berlin" and teardown.target_arn == SETTINGS.teardown_state_machine_arn
    assert teardown.payload["hub_id"] == "hub-cs101"
    parameters = teardown.parameters(SETTINGS)
    assert parameters["GroupName"] == "coursehub-dev" and parameters["ActionAfterCompletion"] == "DELETE"
    assert parameters["Target"]["RoleArn"] == SETTINGS.scheduler_role_arn
    assert reminder.expression == "at(2027-02-22T09:00:00)" and "coursehub extend hub-cs101" in reminder.payload["text"]
    assert reminder.target_arn == SETTINGS.notify_function_arn


def test_the_reminder_is_a_block_kit_message_about_the_hub_with_a_link_to_it():
    (_, reminder) = hub_schedules.plan("hub-cs101", request(), SETTINGS, NOW)
    message = slack.message_from_event(reminder.payload)
    assert message["text"] == reminder.payload["text"]
    assert message["blocks"][1]["fields"][0]["text"] == "*Hub*\n`hub-cs101`"
    assert message["blocks"][2]["elements"][0]["url"] == f"https://{request().binder}"


def test_a_reminder_whose_day_has_passed_is_left_out():
    late = datetime(2027, 2, 25, tzinfo=timezone.utc)
    assert [s.name for s in hub_schedules.plan("hub-cs101", request(), SETTINGS, late)] == ["hub-cs101-teardown"]


def test_nightly_scaling_is_two_crons_in_the_course_time_zone():
    planned = hub_schedules.plan("hub-cs101", request(scaling={"down_at": "19:30", "up_at": "07:15"}), SETTINGS, NOW)
    down, up = planned[2:]
    assert (down.name, down.expression) == ("hub-cs101-scale-down", "cron(30 19 ? * MON-FRI *)")
    assert (up.name, up.expression) == ("hub-cs101-scale-up", "cron(15 7 ? * MON-FRI *)")
    assert up.payload == {"hub_id": "hub-cs101", "direction": "up"} and up.timezone == "Europe/Berlin"
    assert json.loads(up.parameters(SETTINGS)["Target"]["Input"]) == up.payload
    every_day = hub_schedules.plan("hub-cs101", request(scaling={"weekdays_only": False}), SETTINGS, NOW)
    assert [s.expression for s in every_day[2:]] == ["cron(0 20 * * ? *)", "cron(0 7 * * ? *)"]


def test_no_secret_value_is_planned_only_its_arn():
    planned = hub_schedules.plan("hub-cs101", request(), SETTINGS, NOW)
    assert planned[1].payload["slack_secret_arn"] == GOOD["slack_webhook_secret_arn"]


def test_an_ecr_hub_renews_its_builds_login_every_6_hours_and_a_dockerhub_hub_has_no_such_schedule():
    from tests.chalicelib.test_hub_request import ECR

    ecr = HubRequest.stored({**ECR, "registry": "ecr", "timezone": "Europe/Berlin"})
    (login,) = [s for s in hub_schedules.plan("hub-cs101", ecr, SETTINGS, NOW) if s.name == "hub-cs101-registry-login"]
    assert (login.expression, login.target_arn, login.payload) == (
        "rate(6 hours)", SETTINGS.registry_login_function_arn, {"hub_id": "hub-cs101"})
    assert login.parameters(SETTINGS)["ActionAfterCompletion"] == "NONE"
    assert "registry-login" not in {s.name.removeprefix("hub-cs101-") for s in hub_schedules.plan(
        "hub-cs101", request(), SETTINGS, NOW)}
