"""The names and tags a hub's AWS resources get: every one carries the stage, so dev and prod share an account safely.

A cluster is ``coursehub-<stage>-<course>`` and is tagged with the hub, the stage and the course; so is what
the cluster's controllers make for it (the ingress load balancer and its security group through the Service's
``aws-load-balancer-additional-resource-tags`` annotation, volumes through the EBS CSI driver's extra tags).
A cluster is reused, deleted or cleaned up only when both its hub tag and its stage tag are this hub's and this
stage's. Schedules live in the stage's own group (``coursehub-<stage>``), named ``<hub id>-<purpose>``.

Hubs recorded before the stage was part of the name have clusters named ``coursehub-<course>`` (already tagged
with their stage). Since then, the first provisioning step records the cluster's name on the hub record, and
every later step and workflow uses the recorded name: a record without one is such an older hub
(``recorded_cluster``).
"""
from __future__ import annotations

import re

HUB_TAG = "coursehub:hub"
STAGE_TAG = "coursehub:stage"
COURSE_TAG = "coursehub:course"
# Lowercase so that every name built from it is a valid DNS label and IAM name part; no "-", so that the prefix
# "coursehub-<stage>-" of a cluster's name names one stage only (.chalice/policy-audit-hub.json matches it); 20
# characters keep the longest derived name within its limit: the function "coursehub-<stage>-check_nodegroup_deleted"
# (Lambda: 64), the cluster "coursehub-<stage>-<course id of 30>" (EKS: 100), the schedule group (64).
STAGE = re.compile(r"^[a-z][a-z0-9]{0,19}$")
# The tag EKS puts on the cluster security group it makes, naming the cluster (EKS user guide, sec-group-reqs): how
# the audit may delete or change that group, which carries none of the app's tags (.chalice/policy-audit-hub.json).
CLUSTER_NAME_TAG = "aws:eks:cluster-name"
EKS_CLUSTER_NAME_MAX = 100  # EKS API reference, CreateCluster: name, 1 to 100 characters


def cluster_name(stage: str, course_id: str) -> str:
    """The EKS cluster of a course's hub in ``stage``."""
    name = stage_of_cluster_prefix(stage) + course_id
    if len(name) > EKS_CLUSTER_NAME_MAX:
        raise ValueError(f"cluster name {name!r} is longer than EKS allows ({EKS_CLUSTER_NAME_MAX})")
    return name


def legacy_cluster_name(course_id: str) -> str:
    """The cluster name of a hub recorded before the stage was part of it."""
    return f"coursehub-{course_id}"


def recorded_cluster(record: dict) -> str:
    """The cluster a hub record names; for a record older than that field, the name its hub was given then."""
    return record.get("cluster") or legacy_cluster_name(record["request"]["course_id"])


def tags(stage: str, hub_id: str, course_id: str) -> dict[str, str]:
    """What every AWS resource of the hub is tagged with."""
    return {HUB_TAG: hub_id, STAGE_TAG: stage, COURSE_TAG: course_id}


def owner_problem(resource_tags: dict[str, str], *, stage: str, hub_id: str) -> str | None:
    """Why a resource with ``resource_tags`` is not this stage's hub's (None when it is)."""
    if resource_tags.get(HUB_TAG) != hub_id:
        return f"it does not belong to hub {hub_id}"
    if resource_tags.get(STAGE_TAG) != stage:
        return f"it belongs to stage {resource_tags.get(STAGE_TAG) or '(none)'}, not {stage}"
    return None


def stage_of_cluster_prefix(stage: str) -> str:
    """What every cluster name of ``stage`` starts with."""
    return f"coursehub-{stage}-"


def stage_problem(resource_tags: dict[str, str], stage: str, *, security_group: bool = False) -> str | None:
    """Why the audit of ``stage`` may not delete (or change) a resource with ``resource_tags`` (None when it may).

    As the audit's IAM policy allows: the stage's tag, or for a security group EKS's cluster-name tag naming one of
    the stage's clusters.
    """
    if resource_tags.get(STAGE_TAG) == stage:
        return None
    if security_group and resource_tags.get(CLUSTER_NAME_TAG, "").startswith(stage_of_cluster_prefix(stage)):
        return None
    if STAGE_TAG in resource_tags:
        return f"tagged for stage {resource_tags[STAGE_TAG]}; left alone"
    return f"not tagged {STAGE_TAG}={stage} nor for a cluster of the stage; left alone (the audit may not delete it)"


def annotation_value(resource_tags: dict[str, str]) -> str:
    """``resource_tags`` as cloud-provider-aws reads ``aws-load-balancer-additional-resource-tags``: k=v,k=v."""
    for key, value in resource_tags.items():
        if any(c in key + value for c in ",="):  # the provider splits on them (getKeyValuePropertiesFromAnnotation)
            raise ValueError(f"tag {key}={value} cannot be written in a Service annotation")
    return ",".join(f"{key}={value}" for key, value in resource_tags.items())
