"""The provisioning steps as the state machine calls them: one function per Task, each recording its progress.

Every function takes its clients, the settings and the Task's input
(``hub_id``, ``request``, ``step`` = the state's name, and earlier results),
and returns a small dict. Checks raise named not-ready errors; the state
machine's Retry does the waiting.
"""
from __future__ import annotations

import json
from typing import Any

from chalicelib import dns_records, eks_cluster, hub_charts, hub_records, https_check, load_balancer
from chalicelib.errors import InvalidEvent
from chalicelib.hub_request import HubRequest, Limits
from chalicelib.kube_session import cluster_session
from chalicelib.settings import Settings


def _request(event: dict) -> HubRequest:
    if not isinstance(event, dict) or not isinstance(event.get("hub_id"), str) or "request" not in event:
        raise InvalidEvent("a provisioning event needs 'hub_id' and 'request'")
    return HubRequest.parse(event["request"], Limits())


def _step(dynamodb: Any, settings: Settings, event: dict) -> str:
    step = event.get("step") or "unnamed step"
    hub_records.step_started(dynamodb, settings.hub_table_name, event["hub_id"], step)
    return step


def _kube(clients: Any, settings: Settings, request: HubRequest):
    """A helm/kubectl session on the hub's cluster."""
    return cluster_session(clients("eks"), clients("sts"), request.cluster_name, bin_dir=settings.tools_dir,
                           timeout=settings.kube_timeout_seconds)


def _done(dynamodb: Any, settings: Settings, event: dict, step: str, detail: str = "") -> None:
    hub_records.step_finished(dynamodb, settings.hub_table_name, event["hub_id"], step, "SUCCEEDED", detail)


def start(dynamodb: Any, settings: Settings, event: dict) -> dict:
    """Validate the request and record the hub as PROVISIONING (again, for a rerun of a failed hub)."""
    request = _request(event)
    try:
        hub_records.create(dynamodb, settings.hub_table_name, event["hub_id"], event["request"])
    except hub_records.HubAlreadyExists:
        hub_records.set_status(dynamodb, settings.hub_table_name, event["hub_id"], "PROVISIONING", error=None)
    return {"cluster": request.cluster_name, "binder": request.binder, "hub": request.hub,
            "course": request.course_id}


def create_cluster(eks: Any, dynamodb: Any, settings: Settings, event: dict) -> dict:
    request, step = _request(event), _step(dynamodb, settings, event)
    settings.require("cluster_role_arn", "subnet_ids")
    result = eks_cluster.create_cluster(
        eks, name=request.cluster_name, hub_id=event["hub_id"], version=request.kubernetes_version,
        role_arn=settings.cluster_role_arn, subnet_ids=list(settings.subnet_ids),
        tags={"coursehub:course": request.course_id, "coursehub:stage": settings.stage})
    _done(dynamodb, settings, event, step, "reused" if result["reused"] else "created")
    return result


def check_cluster(eks: Any, dynamodb: Any, settings: Settings, event: dict) -> dict:
    request, step = _request(event), _step(dynamodb, settings, event)
    result = eks_cluster.check_cluster(eks, request.cluster_name)
    _done(dynamodb, settings, event, step)
    return result


def create_nodegroup(eks: Any, dynamodb: Any, settings: Settings, event: dict) -> dict:
    request, step = _request(event), _step(dynamodb, settings, event)
    settings.require("node_role_arn", "kube_role_arns", "subnet_ids")
    for role in settings.kube_role_arns:
        eks_cluster.grant_admin(eks, name=request.cluster_name, principal_arn=role)
    result = eks_cluster.create_nodegroup(
        eks, cluster=request.cluster_name, hub_id=event["hub_id"], node_role_arn=settings.node_role_arn,
        subnet_ids=list(settings.subnet_ids), instance_type=request.nodes.instance_type,
        scaling=request.nodes.model_dump(exclude={"instance_type"}), tags={"coursehub:course": request.course_id})
    _done(dynamodb, settings, event, step)
    return result


def check_nodegroup(eks: Any, dynamodb: Any, settings: Settings, event: dict) -> dict:
    request, step = _request(event), _step(dynamodb, settings, event)
    result = eks_cluster.check_nodegroup(eks, request.cluster_name)
    _done(dynamodb, settings, event, step)
    return result


def install_release(clients: Any, dynamodb: Any, settings: Settings, event: dict) -> dict:
    """Install one release (``event['release']``); BinderHub's secrets are read here and nowhere else."""
    request, step = _request(event), _step(dynamodb, settings, event)
    key = event.get("release")
    if key not in hub_charts.RELEASES:
        raise InvalidEvent(f"unknown release {key!r}")
    secrets = hub_charts.chart_secrets(clients("secretsmanager"), request) if key == "binderhub" else None
    with _kube(clients, settings, request) as runner:
        result = hub_charts.install(runner, key, request, chart_directory=settings.chart_directory,
                                    secrets=secrets, timeout_s=settings.kube_timeout_seconds)
    _done(dynamodb, settings, event, step, f"{result['release']} revision {result['revision']}")
    return result


def configure_load_balancer(clients: Any, dynamodb: Any, settings: Settings, event: dict) -> dict:
    """Wait for the ingress load balancer and make its health check probe port 80's NodePort."""
    request, step = _request(event), _step(dynamodb, settings, event)
    with _kube(clients, settings, request) as runner:
        service = hub_charts.ingress_service(runner)
    result = load_balancer.ensure_health_check(clients("elb"), clients("elbv2"), service)
    _done(dynamodb, settings, event, step, f"health check {result['health_check']}")
    return result


def publish_dns(route53: Any, dynamodb: Any, settings: Settings, event: dict) -> dict:
    """UPSERT the hub's records in its hosted zone; without a zone, return the records to create by hand."""
    request, step = _request(event), _step(dynamodb, settings, event)
    target, hosts = event["load_balancer"]["dns_name"], [request.binder, request.hub]
    zone = request.hosted_zone_id or dns_records.find_zone(route53, request.domain)
    if zone:
        dns_records.upsert(route53, zone, hosts, target)
        _done(dynamodb, settings, event, step, f"records in {zone}")
    records = [f"{r['Name']} {r['TTL']} IN CNAME {target}" for r in dns_records.records(hosts, target)]
    return {"zone_id": zone, "records": records, "target": target}


def check_dns(dynamodb: Any, settings: Settings, event: dict) -> dict:
    request, step = _request(event), _step(dynamodb, settings, event)
    result = dns_records.check_resolves([request.binder, request.hub], event["dns"]["target"])
    _done(dynamodb, settings, event, step)
    return result


def check_certificates(clients: Any, dynamodb: Any, settings: Settings, event: dict) -> dict:
    request, step = _request(event), _step(dynamodb, settings, event)
    with _kube(clients, settings, request) as runner:
        names = hub_charts.check_certificates(runner)
    _done(dynamodb, settings, event, step)
    return {"certificates": names}


def verify_hub(dynamodb: Any, settings: Settings, event: dict) -> dict:
    request, step = _request(event), _step(dynamodb, settings, event)
    result = https_check.verify_hub(request.binder, request.hub)
    _done(dynamodb, settings, event, step)
    return result


def ready(dynamodb: Any, settings: Settings, event: dict) -> dict:
    """Record READY with the URLs, cluster and load balancer."""
    request = _request(event)
    urls = {"binder": f"https://{request.binder}", "hub": f"https://{request.hub}"}
    hub_records.set_status(dynamodb, settings.hub_table_name, event["hub_id"], "READY", urls=urls,
                           cluster=request.cluster_name, load_balancer=event["load_balancer"]["dns_name"])
    return urls


def failed(dynamodb: Any, settings: Settings, event: dict) -> dict:
    """Record FAILED with the step that failed and the cause; returns what Slack should say."""
    error = event.get("error") or {}
    record = hub_records.get(dynamodb, settings.hub_table_name, event["hub_id"])
    step = record.get("current_step") or "Start"
    cause = _cause(error)
    hub_records.step_finished(dynamodb, settings.hub_table_name, event["hub_id"], step, "FAILED", cause)
    hub_records.set_status(dynamodb, settings.hub_table_name, event["hub_id"], "FAILED",
                           error={"step": step, "error": error.get("Error", ""), "cause": cause})
    return {"step": step, "error": error.get("Error", "States.Unknown"), "cause": cause}


def _cause(error: dict) -> str:
    """The human part of a Step Functions error cause (a Lambda error's JSON, or plain text)."""
    cause = error.get("Cause") or ""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause[:500]
    return str(parsed.get("errorMessage", cause))[:500] if isinstance(parsed, dict) else cause[:500]
