"""A hub's life on EventBridge Scheduler: the teardown at the term end, a reminder before it, nightly scaling, and
for an ECR hub the renewal of its builds' registry login (``image_registry``).

Every schedule lives in the stage's schedule group, is named ``<hub id>-<purpose>``
and runs in the course's time zone. ``replace`` makes the group hold exactly
what the request asks for (creating, updating and deleting), so changing the
term end or the scaling window is the same call as the first scheduling.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib import image_registry
from chalicelib.hub_request import HubRequest
from chalicelib.settings import Settings

TEARDOWN_AT = time(23, 0)  # local time on the term's last day: the hub serves that whole day
REMINDER_AT = time(9, 0)  # local time, ``reminder_days`` before the term end
PURPOSES = ("teardown", "reminder", "scale-down", "scale-up", "registry-login")
# Scheduler retries a failed target call; a scaling or teardown start more than an hour late is still wanted.
RETRY_POLICY = {"MaximumRetryAttempts": 5, "MaximumEventAgeInSeconds": 3600}


@dataclass(frozen=True)
class Schedule:
    """One schedule of a hub, as EventBridge Scheduler is told."""

    name: str
    expression: str
    timezone: str
    target_arn: str
    payload: dict
    description: str
    one_time: bool

    def parameters(self, settings: Settings) -> dict:
        return {
            "Name": self.name, "GroupName": settings.schedule_group, "ScheduleExpression": self.expression,
            "ScheduleExpressionTimezone": self.timezone, "FlexibleTimeWindow": {"Mode": "OFF"},
            "Description": self.description[:512], "State": "ENABLED",
            "ActionAfterCompletion": "DELETE" if self.one_time else "NONE",
            "Target": {"Arn": self.target_arn, "RoleArn": settings.scheduler_role_arn,
                       "Input": json.dumps(self.payload), "RetryPolicy": RETRY_POLICY},
        }


def teardown_time(request: HubRequest) -> datetime:
    """When the hub is retired: ``TEARDOWN_AT`` on the term's last day, in the course's time zone."""
    return datetime.combine(request.term_end, TEARDOWN_AT, tzinfo=ZoneInfo(request.timezone))


def plan(hub_id: str, request: HubRequest, settings: Settings, now: datetime) -> list[Schedule]:
    """The schedules the hub should have now (a reminder whose time has passed is left out)."""
    zone = request.timezone
    retire = teardown_time(request)
    schedules = [Schedule(
        f"{hub_id}-teardown", _at(retire), zone, settings.teardown_state_machine_arn,
        {"hub_id": hub_id, "reason": f"the term ended on {request.term_end.isoformat()}"},
        f"Retire hub {hub_id} at the end of term", one_time=True)]
    remind = datetime.combine(request.term_end - timedelta(days=request.reminder_days), REMINDER_AT,
                              tzinfo=ZoneInfo(zone))
    if remind > now:
        schedules.append(Schedule(
            f"{hub_id}-reminder", _at(remind), zone, settings.notify_function_arn,
            {"text": reminder_text(hub_id, request, retire),
             "slack_secret_arn": request.slack_webhook_secret_arn,
             "hub_id": hub_id, "outcome": "reminder", "urls": {"binder": f"https://{request.binder}"}},
            f"Remind the course team that hub {hub_id} will be retired", one_time=True))
    if request.scaling:
        days = "MON-FRI" if request.scaling.weekdays_only else "*"
        for direction, at in (("down", request.scaling.down_at), ("up", request.scaling.up_at)):
            schedules.append(Schedule(
                f"{hub_id}-scale-{direction}", _cron(at, days), zone, settings.scale_function_arn,
                {"hub_id": hub_id, "direction": direction},
                f"Scale hub {hub_id} {direction} at {at} {zone}", one_time=False))
    if request.registry == "ecr":
        schedules.append(Schedule(
            f"{hub_id}-registry-login", image_registry.LOGIN_RENEWAL, zone, settings.registry_login_function_arn,
            {"hub_id": hub_id}, f"Renew the ECR login of hub {hub_id}'s image builds", one_time=False))
    return schedules


def reminder_text(hub_id: str, request: HubRequest, retire: datetime) -> str:
    return (f"Reminder: the BinderHub of course {request.course_id} (https://{request.binder}) will be retired on "
            f"{retire:%A %d %B %Y at %H:%M} ({request.timezone}), with everything it runs. To keep it longer, "
            f"extend the term: coursehub extend {hub_id} --term-end YYYY-MM-DD (or PATCH /hubs/{hub_id}).")


def replace(scheduler: Any, settings: Settings, hub_id: str, request: HubRequest, now: datetime) -> dict:
    """Make the hub's schedules exactly ``plan(...)``; returns each schedule's name and expression."""
    settings.require("schedule_group", "scheduler_role_arn", "teardown_state_machine_arn",
                     "notify_function_arn", "scale_function_arn", "registry_login_function_arn")
    wanted = plan(hub_id, request, settings, now)
    for schedule in wanted:
        parameters = schedule.parameters(settings)
        try:
            scheduler.create_schedule(**parameters)
        except scheduler.exceptions.ConflictException:
            scheduler.update_schedule(**parameters)
    keep = {s.name for s in wanted}
    for name in existing(scheduler, settings.schedule_group, hub_id):
        if name not in keep:
            _delete(scheduler, settings.schedule_group, name)
    return {s.name: {"expression": s.expression, "timezone": s.timezone} for s in wanted}


def delete_all(scheduler: Any, group: str, hub_id: str) -> list[str]:
    """Delete every schedule of the hub; returns their names ("already gone" counts as deleted)."""
    names = existing(scheduler, group, hub_id)
    for name in names:
        _delete(scheduler, group, name)
    return names


def existing(scheduler: Any, group: str, hub_id: str) -> list[str]:
    """Names of the hub's schedules in ``group``."""
    names = []
    for page in scheduler.get_paginator("list_schedules").paginate(GroupName=group, NamePrefix=f"{hub_id}-"):
        names += [s["Name"] for s in page["Schedules"] if s["Name"].removeprefix(f"{hub_id}-") in PURPOSES]
    return sorted(names)


def _delete(scheduler: Any, group: str, name: str) -> None:
    try:
        scheduler.delete_schedule(GroupName=group, Name=name)
    except scheduler.exceptions.ResourceNotFoundException:
        pass


def _at(moment: datetime) -> str:
    return f"at({moment:%Y-%m-%dT%H:%M:%S})"


def _cron(hh_mm: str, days: str) -> str:
    hour, minute = (int(part) for part in hh_mm.split(":"))
    return f"cron({minute} {hour} ? * {days} *)" if days != "*" else f"cron({minute} {hour} * * ? *)"

