"""The ``registry-login`` schedule's function: renew the ECR login of a hub's image builds before it expires.

ECR logins last 12 hours, so a READY ECR hub's schedule (``hub_schedules``) calls this every
``image_registry.LOGIN_RENEWAL``. A hub that is not READY, or uses DockerHub, is left alone and the result
says why. A renewal that fails is said on Slack (with when the current login expires) and raised as
``RegistryLoginNotRenewed``, so that the Scheduler tries again (``hub_schedules.RETRY_POLICY``).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib import hub_names, hub_records, image_registry, slack_blocks, steps
from chalicelib.errors import CourseHubError
from chalicelib.hub_request import HubRequest
from chalicelib.settings import Settings

STEP = "registry-login"


class RegistryLoginNotRenewed(CourseHubError):
    """ECR or the cluster refused the renewal; the hub's builds keep the login they have until it expires."""


def renew(clients: Any, settings: Settings, event: Any, now: datetime) -> dict:
    """Renew the hub's login in its cluster; returns what happened, with a Slack message when it failed."""
    from chalicelib.hub_charts import HUB_NAMESPACE

    hub_id = steps.hub_id_of(event)
    dynamodb = clients("dynamodb")
    record = hub_records.get(dynamodb, settings.hub_table_name, hub_id)
    request = HubRequest.stored(record["request"])
    if request.registry != "ecr" or record["status"] != "READY":
        why = "it uses DockerHub" if request.registry != "ecr" else f"it is {record['status']}, not READY"
        return {"renewed": False, "hub_id": hub_id, "reason": why}
    try:
        login = image_registry.login(clients("ecr"))
        with steps.kube(clients, settings, hub_names.recorded_cluster(record)) as runner:
            result = image_registry.renew(runner, login, HUB_NAMESPACE, now.isoformat(timespec="seconds"))
        hub_records.update(dynamodb, settings.hub_table_name, hub_id, registry_login={
            "renewed_at": now.isoformat(timespec="seconds"), "expires_at": login.expires_at})
    except Exception as error:  # noqa: BLE001 - whatever failed is said on Slack, then raised again
        current = (record.get("registry_login") or {}).get("expires_at") or "12 hours after the last renewal"
        text = (f"The ECR login of the BinderHub of course {request.course_id} could not be renewed: "
                f"{type(error).__name__}: {error}. Builds keep working until the current login expires "
                f"({current}); the schedule tries again.")
        return {"renewed": False, "hub_id": hub_id, "failed": f"{type(error).__name__}: {error}",
                "slack_secret_arn": request.slack_webhook_secret_arn, "text": text,
                "blocks": slack_blocks.build(text, hub_id=hub_id, step=STEP, outcome="failed")}
    return {"renewed": True, "hub_id": hub_id, "expires_at": login.expires_at, **result}
