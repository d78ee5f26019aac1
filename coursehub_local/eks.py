"""EKS as AWS behaves and moto does not: slow state transitions and access entries.

moto makes clusters and node groups ACTIVE at once and deletes them at once.
Here creation passes through CREATING, deletion through DELETING, and a scaling
update through UPDATING, each over a duration of simulated time. moto also
lacks access entries; ``AccessEntries`` serves them over the same endpoint.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from moto.eks.exceptions import ResourceInUseException, ResourceNotFoundException

from coursehub_local.timeline import Timeline


@dataclass(frozen=True)
class EksDurations:
    """Simulated seconds each transition takes (typical AWS figures)."""

    cluster_create: float = 600
    cluster_delete: float = 300
    nodegroup_create: float = 180
    nodegroup_delete: float = 240
    nodegroup_update: float = 90


class ClusterApiProvider(Protocol):
    """Where each cluster's Kubernetes API comes from (the local Kubernetes API plugs in here)."""

    def cluster_active(self, cluster: Any) -> None:
        """Give an ACTIVE cluster its endpoint and CA (set ``cluster.endpoint``/``certificate_authority``)."""

    def cluster_deleted(self, cluster: Any) -> None:
        """Stop what ``cluster_active`` started."""

    def nodegroups_changed(self, cluster: Any) -> None:
        """React to node groups appearing, scaling or going away."""


class EksLifecycle:
    """Wraps moto's EKS backend calls so that they take time, as on AWS."""

    def __init__(self, timeline: Timeline, durations: EksDurations, api: ClusterApiProvider):
        self.timeline = timeline
        self.durations = durations
        self.api = api

    def create_cluster(self, original: Callable, backend: Any, *args, **kwargs):
        cluster = original(backend, *args, **kwargs)
        cluster.status = "CREATING"

        def activate() -> None:
            if cluster.status == "CREATING":
                self.api.cluster_active(cluster)
                cluster.status = "ACTIVE"
        self.timeline.after(self.durations.cluster_create, activate)
        return cluster

    def delete_cluster(self, original: Callable, backend: Any, name: str):
        cluster = backend.clusters.get(name)
        if cluster is not None and cluster.status == "DELETING":
            return cluster
        _check_deletable(backend, name)
        cluster = backend.clusters[name]
        cluster.status = "DELETING"

        def remove() -> None:
            if backend.clusters.get(name) is cluster:
                backend.clusters.pop(name)
                backend.cluster_count -= 1
                self.api.cluster_deleted(cluster)
        self.timeline.after(self.durations.cluster_delete, remove)
        return cluster

    def create_nodegroup(self, original: Callable, backend: Any, *args, **kwargs):
        nodegroup = original(backend, *args, **kwargs)
        nodegroup.status = "CREATING"
        cluster = backend.clusters[nodegroup.cluster_name]

        def activate() -> None:
            if nodegroup.status == "CREATING":
                nodegroup.status = "ACTIVE"
                self.api.nodegroups_changed(cluster)
        self.timeline.after(self.durations.nodegroup_create, activate)
        return nodegroup

    def delete_nodegroup(self, original: Callable, backend: Any, cluster_name: str, nodegroup_name: str):
        nodegroup = backend.describe_nodegroup(cluster_name, nodegroup_name)
        if nodegroup.status == "DELETING":
            return nodegroup
        cluster = backend.clusters[cluster_name]
        nodegroup.status = "DELETING"

        def remove() -> None:
            if cluster.nodegroups.get(nodegroup_name) is nodegroup:
                cluster.nodegroups.pop(nodegroup_name)
                cluster.nodegroup_count -= 1
                self.api.nodegroups_changed(cluster)
        self.timeline.after(self.durations.nodegroup_delete, remove)
        return nodegroup

    def update_nodegroup_config(self, original: Callable, backend: Any, cluster_name: str,
                                nodegroup_name: str, **kwargs):
        nodegroup = backend.describe_nodegroup(cluster_name, nodegroup_name)
        if nodegroup.status != "ACTIVE":
            raise ResourceInUseException(
                clusterName=cluster_name, nodegroupName=nodegroup_name,
                message=f"Nodegroup {nodegroup_name} is {nodegroup.status}; updates need ACTIVE")
        scaling = kwargs.pop("scaling_config", None)
        _check_scaling({**nodegroup.scaling_config, **(scaling or {})})
        update = original(backend, cluster_name, nodegroup_name, scaling_config=None, **kwargs)
        if scaling:
            update["params"].append({"type": "ScalingConfig", "value": json.dumps(scaling)})
        update["status"] = "InProgress"
        nodegroup.status = "UPDATING"
        cluster = backend.clusters[cluster_name]

        def apply() -> None:
            if scaling:
                nodegroup.scaling_config = {**nodegroup.scaling_config, **scaling}
            nodegroup.status = "ACTIVE"
            self.api.nodegroups_changed(cluster)
        self.timeline.after(self.durations.nodegroup_update, apply)
        return update


def _check_deletable(backend: Any, name: str) -> None:
    """Raise as AWS does for a missing cluster, one still CREATING, or one with node groups."""
    from moto.eks.models import validate_safe_to_delete

    cluster = backend.clusters.get(name)
    if cluster is None:
        raise ResourceNotFoundException(message=f"No cluster found for name: {name}.")
    if cluster.status == "CREATING":
        raise ResourceInUseException(clusterName=name, message=f"Cluster {name} is still CREATING")
    validate_safe_to_delete(cluster)


def _check_scaling(config: dict) -> None:
    from moto.eks.exceptions import InvalidParameterException

    low, high, want = config.get("minSize", 0), config.get("maxSize", 1), config.get("desiredSize", 0)
    if not (0 <= low <= want <= high) or high < 1:
        raise InvalidParameterException(
            message=f"Invalid scaling config minSize={low} desiredSize={want} maxSize={high}")
