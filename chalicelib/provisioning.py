"""The provisioning steps as the state machine calls them: one function per Task, each recording its progress.

Every function takes its clients, the settings and the Task's input
(``hub_id``, ``request``, ``step`` = the state's name, and earlier results),
and returns a small dict. Checks raise named not-ready errors; the state
machine's Retry does the waiting.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib import (dns_records, eks_cluster, hub_charts, hub_records, hub_schedules, https_check,
                        load_balancer, steps, storage_addons)
from chalicelib.errors import InvalidEvent
from chalicelib.hub_request import HubRequest
from chalicelib.settings import Settings


def start(dynamodb: Any, settings: Settings, event: dict) -> dict:
    """Validate the request against the stage and record the hub as PROVISIONING (again, for a rerun).

    Returns the workflow's state from here on: the accepted request, with the
    stage's defaults filled in, replaces the submitted one.
    """
    hub_id = steps.checked(event)["hub_id"]
    request = HubRequest.parse(event["request"], settings.limits(), settings.request_defaults())
    accepted = request.model_dump(mode="json")
    run = steps.run_of(event, "provision")
    try:  # the API records a hub before it starts the run; a run started directly has no record yet
        hub_records.set_status(dynamodb, settings.hub_table_name, hub_id, "PROVISIONING", error=None,
                               request=accepted, steps={}, current_step=None, **run)
    except hub_records.HubNotFound:
        hub_records.create(dynamodb, settings.hub_table_name, hub_id, accepted, **run)
    return {"hub_id": hub_id, "request": accepted, "hub": steps.names(request)}


def create_cluster(eks: Any, dynamodb: Any, settings: Settings, event: dict) -> dict:
    request, step = steps.request_of(event), steps.started(dynamodb, settings, event)
    settings.require("cluster_role_arn", "subnet_ids")
    result = eks_cluster.create_cluster(
        eks, name=request.cluster_name, hub_id=event["hub_id"], version=request.kubernetes_version,
        role_arn=settings.cluster_role_arn, subnet_ids=list(settings.subnet_ids),
        tags={"coursehub:course": request.course_id, "coursehub:stage": settings.stage})
    steps.finished(dynamodb, settings, event, step, "reused" if result["reused"] else "created")
    return result


def check_cluster(eks: Any, dynamodb: Any, settings: Settings, event: dict) -> dict:
    request, step = steps.request_of(event), steps.started(dynamodb, settings, event)
    result = eks_cluster.check_cluster(eks, request.cluster_name)
    steps.finished(dynamodb, settings, event, step)
    return result


def create_nodegroup(eks: Any, ec2: Any, dynamodb: Any, settings: Settings, event: dict) -> dict:
    """Give the Kubernetes roles access, then create the node group in one zone (where the hub's volume will be)."""
    request, step = steps.request_of(event), steps.started(dynamodb, settings, event)
    settings.require("node_role_arn", "kube_role_arns", "subnet_ids")
    for role in settings.kube_role_arns:
        eks_cluster.grant_admin(eks, name=request.cluster_name, principal_arn=role)
    result = eks_cluster.create_nodegroup(
        eks, cluster=request.cluster_name, hub_id=event["hub_id"], node_role_arn=settings.node_role_arn,
        subnet_ids=storage_addons.one_zone(ec2, list(settings.subnet_ids)), instance_type=request.nodes.instance_type,
        scaling=request.nodes.model_dump(exclude={"instance_type"}), tags={"coursehub:course": request.course_id})
    steps.finished(dynamodb, settings, event, step)
    return result


def check_nodegroup(eks: Any, dynamodb: Any, settings: Settings, event: dict) -> dict:
    request, step = steps.request_of(event), steps.started(dynamodb, settings, event)
    result = eks_cluster.check_nodegroup(eks, request.cluster_name)
    steps.finished(dynamodb, settings, event, step)
    return result


def create_storage_addons(eks: Any, dynamodb: Any, settings: Settings, event: dict) -> dict:
    """Create the EBS CSI driver and Pod Identity add-ons and the driver's association (or reuse them)."""
    request, step = steps.request_of(event), steps.started(dynamodb, settings, event)
    settings.require("ebs_csi_role_arn")
    result = storage_addons.create(
        eks, cluster=request.cluster_name, hub_id=event["hub_id"], role_arn=settings.ebs_csi_role_arn,
        tags={"coursehub:course": request.course_id, "coursehub:stage": settings.stage})
    steps.finished(dynamodb, settings, event, step, ", ".join(f"{k} {v}" for k, v in result["addons"].items()))
    return result


def check_storage_addons(eks: Any, dynamodb: Any, settings: Settings, event: dict) -> dict:
    request, step = steps.request_of(event), steps.started(dynamodb, settings, event)
    result = storage_addons.check(eks, request.cluster_name)
    steps.finished(dynamodb, settings, event, step)
    return result


def install_release(clients: Any, dynamodb: Any, settings: Settings, event: dict) -> dict:
    """Install one release (``event['release']``); BinderHub's secrets are read here and nowhere else."""
    request, step = steps.request_of(event), steps.started(dynamodb, settings, event)
    key = event.get("release")
    if key not in hub_charts.RELEASES:
        raise InvalidEvent(f"unknown release {key!r}")
    secrets = hub_charts.chart_secrets(clients("secretsmanager"), request) if key == "binderhub" else None
    with steps.kube(clients, settings, request) as runner:
        result = hub_charts.install(runner, key, request, chart_repository=settings.chart_repository,
                                    secrets=secrets, timeout_s=settings.kube_timeout_seconds)
    steps.finished(dynamodb, settings, event, step, f"{result['release']} revision {result['revision']}")
    return result


def configure_load_balancer(clients: Any, dynamodb: Any, settings: Settings, event: dict) -> dict:
    """Wait for the ingress load balancer and make its health check probe port 80's NodePort."""
    request, step = steps.request_of(event), steps.started(dynamodb, settings, event)
    with steps.kube(clients, settings, request) as runner:
        service = hub_charts.ingress_service(runner)
    result = load_balancer.ensure_health_check(clients("elb"), clients("elbv2"), service)
    steps.finished(dynamodb, settings, event, step, f"health check {result['health_check']}")
    return result


def publish_dns(route53: Any, dynamodb: Any, settings: Settings, event: dict) -> dict:
    """UPSERT the hub's records in its hosted zone; without a zone, return the records to create by hand."""
    request, step = steps.request_of(event), steps.started(dynamodb, settings, event)
    target, hosts = event["load_balancer"]["dns_name"], [request.binder, request.hub]
    zone = request.hosted_zone_id or dns_records.find_zone(route53, request.domain)
    if zone:
        dns_records.upsert(route53, zone, hosts, target)
        steps.finished(dynamodb, settings, event, step, f"records in {zone}")
    records = [f"{r['Name']} {r['TTL']} IN CNAME {target}" for r in dns_records.records(hosts, target)]
    return {"zone_id": zone, "records": records, "target": target}


def check_dns(dynamodb: Any, settings: Settings, event: dict) -> dict:
    request, step = steps.request_of(event), steps.started(dynamodb, settings, event)
    result = dns_records.check_resolves([request.binder, request.hub], event["dns"]["target"])
    steps.finished(dynamodb, settings, event, step)
    return result


def check_certificates(clients: Any, dynamodb: Any, settings: Settings, event: dict) -> dict:
    request, step = steps.request_of(event), steps.started(dynamodb, settings, event)
    with steps.kube(clients, settings, request) as runner:
        names = hub_charts.check_certificates(runner)
    steps.finished(dynamodb, settings, event, step)
    return {"certificates": names}


def verify_hub(dynamodb: Any, settings: Settings, event: dict) -> dict:
    request, step = steps.request_of(event), steps.started(dynamodb, settings, event)
    # A staging certificate chains only to Let's Encrypt's staging roots; a production one to the trust store.
    roots = settings.acme_staging_roots if request.acme_staging else None
    result = https_check.verify_hub(request.binder, request.hub, cafile=roots)
    steps.finished(dynamodb, settings, event, step)
    return result


def ready(dynamodb: Any, settings: Settings, event: dict) -> dict:
    """Record READY with the URLs, cluster, load balancer and the node group's scale."""
    request, step = steps.request_of(event), steps.started(dynamodb, settings, event)
    urls = {"binder": f"https://{request.binder}", "hub": f"https://{request.hub}"}
    nodes = request.nodes
    hub_records.set_status(dynamodb, settings.hub_table_name, event["hub_id"], "READY", urls=urls,
                           cluster=request.cluster_name, load_balancer=event["load_balancer"]["dns_name"],
                           scale={"direction": "up", "min_size": nodes.min_size,
                                  "desired_size": nodes.desired_size, "max_size": nodes.max_size})
    steps.finished(dynamodb, settings, event, step)
    return urls


def schedule_lifecycle(scheduler: Any, dynamodb: Any, settings: Settings, event: dict, now: datetime) -> dict:
    """Create (or replace) the hub's schedules: teardown at the term end, the reminder, nightly scaling."""
    request, step = steps.request_of(event), steps.started(dynamodb, settings, event)
    schedules = hub_schedules.replace(scheduler, settings, event["hub_id"], request, now)
    retire = hub_schedules.teardown_time(request)
    hub_records.update(dynamodb, settings.hub_table_name, event["hub_id"], schedules=schedules,
                       retire_at=retire.isoformat())
    steps.finished(dynamodb, settings, event, step, ", ".join(schedules))
    scaling = (f"scaled to 0 nodes from {request.scaling.down_at} to {request.scaling.up_at}"
               f"{' and at weekends' if request.scaling.weekdays_only else ''}" if request.scaling else "always on")
    return {"schedules": sorted(schedules), "retire_at": f"{retire:%Y-%m-%d %H:%M} {request.timezone}",
            "scaling": scaling}
