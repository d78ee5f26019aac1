"""The provisioning steps as the state machine calls them: one ``@steps.step`` function per Task.

Every function takes its clients, the settings and the Task's input
(``hub_id``, ``request``, ``step`` = the state's name, and earlier results),
and returns a small dict (``steps.step`` records and logs what it did). Checks
raise named not-ready errors; the state machine's Retry does the waiting.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib import (dns_records, eks_cluster, hub_charts, hub_names, hub_records, hub_schedules, https_check,
                        image_registry, load_balancer, steps, storage_addons, subnets)
from chalicelib.errors import InvalidEvent
from chalicelib.hub_request import HubRequest
from chalicelib.settings import Settings


@steps.step(recorded=False)
def start(dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """Validate the request against the stage and record the hub as PROVISIONING (again, for a rerun).

    Returns the workflow's state from here on: the accepted request, with the
    stage's defaults filled in, replaces the submitted one.
    """
    hub_id = steps.checked(event)["hub_id"]
    request = HubRequest.parse(event["request"], settings.limits(), settings.request_defaults())
    accepted = request.model_dump(mode="json")
    # The cluster's name is recorded now, before it exists: every later step and workflow uses the recorded one.
    cluster = hub_names.cluster_name(settings.stage, request.course_id)
    run = {**steps.run_of(event, "provision"), "cluster": cluster}
    try:  # the API records a hub before it starts the run; a run started directly may have no live record yet
        hub_records.rerun(dynamodb, settings.hub_table_name, hub_id, error=None, request=accepted, steps={},
                          current_step=None, **run)
        recorded = "recorded as PROVISIONING, its steps cleared"
    except hub_records.HubNotFound:  # or RETIRED: a new hub of the course, holding its names
        hub_records.create(dynamodb, settings.hub_table_name, hub_id, accepted, tuple(request.public_names), **run)
        recorded = "recorded as PROVISIONING"
    return steps.done({"hub_id": hub_id, "request": accepted, "hub": steps.names(request, cluster)},
                      f"{recorded}: cluster {cluster}, hosts {request.binder} and {request.hub}")


@steps.step
def create_cluster(eks: Any, ec2: Any, dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """Start creating the hub's EKS cluster (in the stage's subnets EKS supports), or reuse this hub's."""
    request = steps.request_of(event)
    settings.require("cluster_role_arn", "subnet_ids")
    result = eks_cluster.create_cluster(
        eks, name=steps.cluster_of(event, settings), version=request.kubernetes_version,
        role_arn=settings.cluster_role_arn, subnet_ids=subnets.for_cluster(ec2, list(settings.subnet_ids)),
        tags=steps.tags_of(event, settings))
    return steps.done(result, "reused" if result["reused"] else "created")


@steps.step
def check_cluster(eks: Any, dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """ClusterNotReady until the cluster is ACTIVE."""
    return steps.done(eks_cluster.check_cluster(eks, steps.cluster_of(event, settings)))


@steps.step
def create_nodegroup(eks: Any, ec2: Any, dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """Give the Kubernetes roles access, then create the node group in one zone (where the hub's volume will be)."""
    request = steps.request_of(event)
    cluster = steps.cluster_of(event, settings)
    settings.require("node_role_arn", "kube_role_arns", "subnet_ids")
    for role in settings.kube_role_arns:
        eks_cluster.grant_admin(eks, name=cluster, principal_arn=role)
    result = eks_cluster.create_nodegroup(
        eks, cluster=cluster, node_role_arn=settings.node_role_arn,
        subnet_ids=subnets.for_nodes(ec2, list(settings.subnet_ids)), instance_type=request.nodes.instance_type,
        scaling=request.nodes.model_dump(exclude={"instance_type"}), tags=steps.tags_of(event, settings))
    return steps.done(result)


@steps.step
def check_nodegroup(eks: Any, dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """NodegroupNotReady until the node group is ACTIVE."""
    return steps.done(eks_cluster.check_nodegroup(eks, steps.cluster_of(event, settings)))


@steps.step
def create_storage_addons(eks: Any, dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """Create the EBS CSI driver and Pod Identity add-ons and the driver's association (or reuse them)."""
    settings.require("ebs_csi_role_arn")
    result = storage_addons.create(eks, cluster=steps.cluster_of(event, settings), role_arn=settings.ebs_csi_role_arn,
                                   tags=steps.tags_of(event, settings))
    return steps.done(result, ", ".join(f"{k} {v}" for k, v in result["addons"].items()))


@steps.step
def check_storage_addons(eks: Any, dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """StorageAddonsNotReady until both add-ons are ACTIVE."""
    return steps.done(storage_addons.check(eks, steps.cluster_of(event, settings)))


@steps.step
def install_release(clients: Any, dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """Install one release (``event['release']``); BinderHub's secrets (and a fresh ECR login) are read here and
    nowhere else in the workflow."""
    request = steps.request_of(event)
    key = event.get("release")
    if key not in hub_charts.RELEASES:
        raise InvalidEvent(f"unknown release {key!r}")
    secrets = hub_charts.chart_secrets(clients, request, settings.stage) if key == "binderhub" else None
    with steps.kube(clients, settings, steps.cluster_of(event, settings)) as runner:
        result = hub_charts.install(runner, key, request, tags=steps.tags_of(event, settings),
                                    chart_repository=settings.chart_repository,
                                    secrets=secrets, timeout_s=settings.kube_timeout_seconds)
    return steps.done(result, f"{result['release']} revision {result['revision']}")


@steps.step
def prepare_registry(ecr: Any, dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """ECR: the repository creation template that lets a build's first push create its repository. DockerHub:
    nothing to prepare (its repositories are the account holder's)."""
    request = steps.request_of(event)
    if request.registry != "ecr":
        return steps.done({"registry": "dockerhub", "image_prefix": request.image_prefix},
                          f"DockerHub, images under {request.image_prefix}")
    settings.require("ecr_creation_role_arn")
    result = image_registry.prepare(ecr, image_registry.repository_prefix(settings.stage, request.course_id),
                                    steps.tags_of(event, settings), request.images_per_repository,
                                    settings.ecr_creation_role_arn)
    return steps.done({"registry": "ecr", **result},
                      f"ECR template {result['prefix']} {result['template']}: repositories are created on push, "
                      f"keeping the newest {result['images_per_repository']} images")


@steps.step
def configure_load_balancer(clients: Any, dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """Wait for the ingress load balancer and make its health check probe port 80's NodePort."""
    request = steps.request_of(event)
    with steps.kube(clients, settings, steps.cluster_of(event, settings)) as runner:
        service = hub_charts.ingress_service(runner)
    result = load_balancer.ensure_health_check(clients("elb"), clients("elbv2"), service)
    return steps.done(result, f"health check {result['health_check']}")


@steps.step
def publish_dns(route53: Any, dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """UPSERT the hub's records in its hosted zone; without a zone, return the records to create by hand.

    Without a zone the step is left running on the hub record: its records are posted on Slack to be created by
    hand, and the next step waits until they resolve.
    """
    request = steps.request_of(event)
    target, hosts = event["load_balancer"]["dns_name"], [request.binder, request.hub]
    zone = request.hosted_zone_id or dns_records.find_zone(route53, request.domain)
    if zone:
        dns_records.upsert(route53, zone, hosts, target)
    records = [f"{r['Name']} {r['TTL']} IN CNAME {target}" for r in dns_records.records(hosts, target)]
    result = {"zone_id": zone, "records": records, "target": target}
    if zone:
        return steps.done(result, f"records in {zone}")
    return steps.unfinished(result, f"no hosted zone serves {request.domain}; the records are to be created by hand")


@steps.step
def check_dns(dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """DnsNotResolving until the hub's names resolve to the load balancer."""
    request = steps.request_of(event)
    return steps.done(dns_records.check_resolves([request.binder, request.hub], event["dns"]["target"]))


@steps.step
def check_certificates(clients: Any, dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """CertificatesNotReady until every certificate of the hub is issued."""
    request = steps.request_of(event)
    with steps.kube(clients, settings, steps.cluster_of(event, settings)) as runner:
        names = hub_charts.check_certificates(runner)
    return steps.done({"certificates": names})


@steps.step
def verify_hub(dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """HubNotAnswering until BinderHub and JupyterHub answer 200 over verified HTTPS."""
    request = steps.request_of(event)
    # A staging certificate chains only to Let's Encrypt's staging roots; a production one to the trust store.
    roots = settings.acme_staging_roots if request.acme_staging else None
    return steps.done(https_check.verify_hub(request.binder, request.hub, cafile=roots))


@steps.step
def ready(dynamodb: Any, settings: Settings, event: dict) -> steps.Outcome:
    """Record READY with the URLs, cluster, load balancer and the node group's scale."""
    request = steps.request_of(event)
    urls = {"binder": f"https://{request.binder}", "hub": f"https://{request.hub}"}
    nodes = request.nodes
    hub_records.set_status(dynamodb, settings.hub_table_name, event["hub_id"], "READY", urls=urls,
                           cluster=steps.cluster_of(event, settings), load_balancer=event["load_balancer"]["dns_name"],
                           scale={"direction": "up", "min_size": nodes.min_size,
                                  "desired_size": nodes.desired_size, "max_size": nodes.max_size})
    return steps.done(urls)


@steps.step
def schedule_lifecycle(scheduler: Any, dynamodb: Any, settings: Settings, event: dict,
                       now: datetime) -> steps.Outcome:
    """Create (or replace) the hub's schedules: teardown at the term end, the reminder, nightly scaling."""
    request = steps.request_of(event)
    schedules = hub_schedules.replace(scheduler, settings, event["hub_id"], request, now)
    retire = hub_schedules.teardown_time(request)
    hub_records.update(dynamodb, settings.hub_table_name, event["hub_id"], schedules=schedules,
                       retire_at=retire.isoformat())
    scaling = (f"scaled to 0 nodes from {request.scaling.down_at} to {request.scaling.up_at}"
               f"{' and at weekends' if request.scaling.weekdays_only else ''}" if request.scaling else "always on")
    return steps.done({"schedules": sorted(schedules), "retire_at": f"{retire:%Y-%m-%d %H:%M} {request.timezone}",
                       "scaling": scaling}, ", ".join(schedules))
