"""The teardown steps as ``statemachine/teardown.asl.json`` calls them, in the order that leaves no orphans.

Releases go first, so the cluster's cloud controller deletes the load
balancers and volumes it made; then DNS, the node group, the cluster, the
schedules; an audit looks for anything still tagged for the hub. Every step
treats "already gone" as done, so a teardown works on a half-provisioned hub
and a failed teardown can be started again.
"""
from __future__ import annotations

import json
from typing import Any

from chalicelib import (dns_records, eks_cluster, hub_charts, hub_names, hub_records, hub_schedules, image_registry,
                        releases, steps)
from chalicelib.errors import CourseHubError
from chalicelib.hub_request import HubRequest
from chalicelib.settings import Settings

# The kinds of AWS resources the cluster's controllers delete once the releases are gone.
RELEASED_KINDS = ("classic_load_balancers", "load_balancers", "volumes")


class CloudResourcesRemain(CourseHubError):
    """The cluster still has load balancers or volumes in AWS (the controller is deleting them; retry later)."""


class NodegroupStillExists(CourseHubError):
    """The node group is being deleted (retry later)."""


class ClusterStillExists(CourseHubError):
    """The cluster is being deleted (retry later)."""


@steps.step(recorded=False)
def start(dynamodb: Any, settings: Settings, event: Any) -> steps.Outcome:
    """Record the hub as RETIRING; returns the workflow's state: the hub id, its stored request and names."""
    hub_id = steps.hub_id_of(event)
    record = hub_records.get(dynamodb, settings.hub_table_name, hub_id)
    request = HubRequest.stored(record["request"])
    given = event.get("input") if isinstance(event.get("input"), dict) else event  # the run's input, or the event
    reason = str(given.get("reason") or "retired on request")[:200]
    hub_records.set_status(dynamodb, settings.hub_table_name, hub_id, "RETIRING", retire_reason=reason,
                           steps={}, current_step=None, **steps.run_of(event, "teardown"))
    hub = steps.names(request, hub_names.recorded_cluster(record))  # a hub's cluster keeps the name it was given
    return steps.done({"hub_id": hub_id, "request": record["request"], "reason": reason, "hub": hub},
                      f"recorded as RETIRING: {reason}")


@steps.step
def uninstall_releases(clients: Any, dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """Uninstall BinderHub, cert-manager and the ingress controller and delete their namespaces (no cluster: done)."""
    cluster = steps.cluster_of(event, settings)
    if _cluster_status(clients("eks"), cluster) != "ACTIVE":
        return steps.done({"uninstalled": [], "cluster": "absent"}, "no active cluster")
    uninstalled = []
    with steps.kube(clients, settings, cluster) as runner:
        for release in reversed(hub_charts.RELEASES.values()):  # BinderHub first, the ingress last
            if releases.uninstall(runner, release.name, release.namespace):
                uninstalled.append(release.name)
        namespaces = sorted({r.namespace for r in hub_charts.RELEASES.values()})
        runner.kubectl("delete", "namespace", *namespaces, "--ignore-not-found", "--wait=false")
    return steps.done({"uninstalled": uninstalled, "cluster": "active"}, ", ".join(uninstalled) or "nothing installed")


@steps.step
def check_released(clients: Any, dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """CloudResourcesRemain while the cluster's load balancers or volumes still exist in AWS.

    The wait is bounded: on the last of ``attempts`` checks (``attempt`` is the state's retry count) what is
    still there is left to the audit, which deletes it and reports it by id; so is everything when no
    cluster is active to delete it.
    """
    from chalicelib import audit

    cluster = steps.cluster_of(event, settings)
    if _cluster_status(clients("eks"), cluster) != "ACTIVE":
        return steps.done({"released": False}, "no active cluster; the audit checks")
    found = audit.find(clients, cluster=cluster, kinds=RELEASED_KINDS)
    remaining = {kind: ids for kind, ids in found.items() if ids}
    if remaining and event.get("attempt", 0) < event.get("attempts", 0):
        raise CloudResourcesRemain(f"still in AWS: {json.dumps(remaining)}")
    detail = f"still in AWS after {event.get('attempts', 0) + 1} checks, left to the audit" if remaining else ""
    return steps.done({"released": not remaining, "remaining": remaining}, detail)


@steps.step
def delete_dns(route53: Any, dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """Delete the hub's records from its hosted zone (none there, or no zone: done)."""
    request = steps.request_of(event)
    zone = request.hosted_zone_id or dns_records.find_zone(route53, request.domain)
    deleted = dns_records.delete(route53, zone, [request.binder, request.hub]) if zone else []
    return steps.done({"zone_id": zone, "deleted": deleted}, ", ".join(deleted) or "no records")


@steps.step
def delete_nodegroup(eks: Any, dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """Start deleting the node group (already gone: done); NodegroupBusy while it is being changed."""
    cluster = steps.cluster_of(event, settings)
    try:
        eks.delete_nodegroup(clusterName=cluster, nodegroupName=eks_cluster.NODEGROUP)
        outcome = "deleting"
    except eks.exceptions.ResourceNotFoundException:
        outcome = "already gone"
    except eks.exceptions.ResourceInUseException:  # being deleted already, or being scaled: then wait
        status = eks.describe_nodegroup(clusterName=cluster,
                                        nodegroupName=eks_cluster.NODEGROUP)["nodegroup"]["status"]
        if status != "DELETING":
            raise eks_cluster.NodegroupBusy(f"node group of {cluster} is {status}") from None
        outcome = "deleting"
    return steps.done({"nodegroup": outcome}, outcome)


@steps.step
def check_nodegroup_deleted(eks: Any, dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """NodegroupStillExists until the node group is gone; ClusterFailed if its deletion failed."""
    cluster = steps.cluster_of(event, settings)
    try:
        status = eks.describe_nodegroup(clusterName=cluster,
                                        nodegroupName=eks_cluster.NODEGROUP)["nodegroup"]["status"]
    except eks.exceptions.ResourceNotFoundException:
        return steps.done({"nodegroup": "deleted"})
    if status == "DELETE_FAILED":
        raise eks_cluster.ClusterFailed(f"node group of {cluster} is DELETE_FAILED")
    raise NodegroupStillExists(f"node group of {cluster} is {status}")


@steps.step
def delete_cluster(eks: Any, dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """Start deleting the hub's cluster (already gone: done); never a cluster of another hub or stage."""
    name = steps.cluster_of(event, settings)
    try:
        cluster = eks.describe_cluster(name=name)["cluster"]
    except eks.exceptions.ResourceNotFoundException:
        return steps.done({"cluster": "already gone"}, "already gone")
    if problem := hub_names.owner_problem(cluster.get("tags", {}), stage=settings.stage, hub_id=event["hub_id"]):
        raise eks_cluster.ClusterFailed(f"cluster {name} is not deleted: {problem}")
    if cluster["status"] in ("CREATING", "UPDATING"):  # e.g. a hub retired while it was being provisioned
        raise eks_cluster.ClusterBusy(f"cluster {name} is {cluster['status']}; deleting it later")
    if cluster["status"] != "DELETING":
        eks.delete_cluster(name=name)
    return steps.done({"cluster": "deleting"}, "deleting")


@steps.step
def check_cluster_deleted(eks: Any, dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """ClusterStillExists until the cluster is gone."""
    cluster = steps.cluster_of(event, settings)
    status = _cluster_status(eks, cluster)
    if status is not None:
        raise ClusterStillExists(f"cluster {cluster} is {status}")
    return steps.done({"cluster": "deleted"})


@steps.step
def delete_schedules(scheduler: Any, dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """Delete every schedule of the hub (none left: done)."""
    settings.require("schedule_group")
    deleted = hub_schedules.delete_all(scheduler, settings.schedule_group, event["hub_id"])
    return steps.done({"deleted": deleted}, ", ".join(deleted) or "none")


@steps.step
def delete_registry(ecr: Any, dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """ECR: delete the hub's creation template and its repositories with their images, or keep the repositories when
    the request asks to archive them (named in the result, for Slack). DockerHub: nothing of CourseHub's to delete."""
    request = steps.request_of(event)
    if request.registry != "ecr":
        summary = f"left on DockerHub under {request.image_prefix}"
        return steps.done({"registry": "dockerhub", "summary": summary}, summary)
    result = image_registry.remove(ecr, image_registry.repository_prefix(settings.stage, request.course_id),
                                   keep_images=request.archive_images)
    if result["kept"]:
        summary = f"kept in ECR as asked ({len(result['kept'])}): {', '.join(result['kept'])}"
    else:
        count = len(result["deleted"])
        summary = f"{count} ECR {'repository' if count == 1 else 'repositories'} deleted, template {result['template']}"
    return steps.done({"registry": "ecr", **result, "summary": summary}, summary)


@steps.step
def audit_hub(clients: Any, dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """Look for anything still tagged for the hub's cluster or named for the hub, clean it, report each by id."""
    from chalicelib import audit

    request = steps.request_of(event)
    zone = request.hosted_zone_id or dns_records.find_zone(clients("route53"), request.domain)
    prefix = image_registry.repository_prefix(settings.stage, request.course_id) if request.registry == "ecr" else ""
    result = audit.audit(clients, cluster=steps.cluster_of(event, settings), hub_id=event["hub_id"],
                         stage=settings.stage, hosts=[request.binder, request.hub], zone_id=zone,
                         schedule_group=settings.schedule_group, registry_prefix=prefix,
                         keep_images=request.archive_images)
    return steps.done(result, result["summary"])


@steps.step(recorded=False)
def retired(dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """Record RETIRED with the audit."""
    audit_result = event.get("audit") or {}
    hub_records.set_status(dynamodb, settings.hub_table_name, steps.checked(event)["hub_id"], "RETIRED",
                           audit={k: audit_result.get(k) for k in ("clean", "found", "cleaned", "remaining",
                                                                   "summary")},
                           schedules={})
    summary = audit_result.get("summary", "")
    return steps.done({"clean": bool(audit_result.get("clean")), "summary": summary}, f"recorded as RETIRED: {summary}")


def _cluster_status(eks: Any, name: str) -> str | None:
    try:
        return eks.describe_cluster(name=name)["cluster"]["status"]
    except eks.exceptions.ResourceNotFoundException:
        return None
