"""What the REST API answers about hubs: the full view of one, the summary in a listing, the step timeline.

No secret values live on a hub record, only ARNs, so a view may show the record's fields as they are.
"""
from __future__ import annotations

from datetime import datetime

from chalicelib import slack_blocks

# The steps every run of a workflow records on the hub, in order: the Tasks of statemachine/<workflow>.asl.json
# that pass their state name as ``step`` (tests/chalicelib/test_api_views.py holds this list to the ASL).
# "Check DNS resolves" runs only when no hosted zone serves the domain, and "Launch a test repository" only when the
# request's launch test is enabled, so they are not counted.
STEPS = {
    "provision": ("Create the cluster", "Check the cluster is active", "Create the node group",
                  "Check the node group is active", "Create the storage add-ons",
                  "Check the storage add-ons are active", "Install the ingress controller", "Install cert-manager",
                  "Prepare the image registry", "Install BinderHub", "Fix the load balancer health check",
                  "Publish DNS", "Check the certificates are issued", "Verify the hub over HTTPS",
                  "Record the hub as ready", "Schedule the hub's life"),
    "teardown": ("Bring back a node for the teardown", "Check a node is ready", "Uninstall the releases",
                 "Check the load balancers and volumes are gone", "Delete the DNS records", "Delete the node group",
                 "Check the node group is deleted", "Delete the cluster", "Check the cluster is deleted",
                 "Delete the schedules", "Delete the image repositories", "Audit what is left"),
}
OPTIONAL_STEPS = {"provision": ("Check DNS resolves", "Launch a test repository"), "teardown": ()}


def view(record: dict) -> dict:
    """Everything about a hub a caller may see."""
    workflow = record.get("workflow") or "provision"
    expected = STEPS.get(workflow, ())
    steps = timeline(record.get("steps") or {}, expected)
    done = sum(1 for s in steps if s["outcome"] == "SUCCEEDED" and s["name"] in expected)
    execution = record.get("execution_arn")
    return {
        **summary(record),
        "workflow": workflow,
        "progress": {"done": done, "total": len(expected)},
        "steps": steps,
        "scale": record.get("scale"),
        "schedules": record.get("schedules") or {},
        "registry_login": record.get("registry_login"),  # an ECR hub's: when its builds' login was renewed, expires
        "launch_check": record.get("launch_check"),  # the last check that a student can launch and run a cell
        "error": record.get("error"),
        "audit": record.get("audit"),
        "execution_arn": execution,
        "console_url": slack_blocks.console_url(execution) if execution else None,
        "request": record.get("request"),
        "created_by": record.get("created_by"),
        "created_at": record.get("created_at"),
    }


def summary(record: dict) -> dict:
    """A hub as a listing shows it."""
    return {"hub_id": record["hub_id"], "course_id": (record.get("request") or {}).get("course_id"),
            "status": record["status"], "current_step": record.get("current_step"), "urls": record.get("urls"),
            "retire_at": record.get("retire_at"), "updated_at": record.get("updated_at")}


def timeline(steps: dict, order: tuple[str, ...] = ()) -> list[dict]:
    """The recorded steps in the order they started (the workflow's order within a second), with how long each
    took."""
    rank = {name: index for index, name in enumerate(order)}
    out = []
    for name, step in sorted(steps.items(), key=lambda item: (item[1].get("started_at") or "",
                                                              rank.get(item[0], len(rank)), item[0])):
        started, ended = step.get("started_at"), step.get("ended_at")
        seconds = (_time(ended) - _time(started)).total_seconds() if started and ended else None
        out.append({"name": name, "outcome": step.get("outcome"), "started_at": started, "ended_at": ended,
                    "duration_s": seconds, "detail": step.get("detail") or ""})
    return out


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)
