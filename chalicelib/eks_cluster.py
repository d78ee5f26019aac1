"""The hub's EKS cluster and node group: start + check, idempotent, tagged with the hub and the stage.

``create_*`` return at once; ``check_*`` raise ``*NotReady`` until the
resource is ACTIVE (the state machine's Retry does the waiting) and a
terminal error when AWS reports FAILED. A cluster that already exists for
the same hub of the same stage is reused, so a failed run can be started
again; one of another hub or stage is never touched.
"""
from __future__ import annotations

from typing import Any

from chalicelib.errors import CourseHubError
from chalicelib.hub_names import HUB_TAG, STAGE_TAG, owner_problem

# Access entries (grant_admin) work only in these modes; CreateCluster through the API defaults to
# CONFIG_MAP (EKS API reference, CreateAccessConfigRequest.authenticationMode), so the mode is set.
ACCESS_ENTRY_MODES = ("API", "API_AND_CONFIG_MAP")
ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
NODEGROUP = "workers"


class ClusterNotReady(CourseHubError):
    """The cluster is still being created (retry later)."""


class NodegroupNotReady(CourseHubError):
    """The node group is still being created or updated (retry later)."""


class NodegroupBusy(CourseHubError):
    """The node group is being updated; a scaling or deletion has to wait (retry later)."""


class ClusterBusy(CourseHubError):
    """The cluster is still being created or updated, so it cannot be deleted yet (retry later)."""


class ClusterFailed(CourseHubError):
    """AWS reports the cluster or node group FAILED, or it belongs to something else."""


def create_cluster(eks: Any, *, name: str, version: str, role_arn: str, subnet_ids: list[str],
                   tags: dict[str, str]) -> dict:
    """Start creating the cluster, or reuse this hub's existing one (``tags`` name the hub and the stage)."""
    try:
        existing = eks.describe_cluster(name=name)["cluster"]
    except eks.exceptions.ResourceNotFoundException:
        existing = None
    if existing is not None:
        if problem := owner_problem(existing.get("tags", {}), stage=tags[STAGE_TAG], hub_id=tags[HUB_TAG]):
            raise ClusterFailed(f"a cluster named {name} exists and {problem}; it is left alone")
        mode = existing.get("accessConfig", {}).get("authenticationMode", "CONFIG_MAP")
        if mode not in ACCESS_ENTRY_MODES:
            # Switching is one-way and takes an update (CONFIG_MAP -> API_AND_CONFIG_MAP -> API); left to an admin.
            raise ClusterFailed(
                f"cluster {name} authenticates with {mode}, and its admins are granted with EKS access entries, "
                f"which need API or API_AND_CONFIG_MAP: run `aws eks update-cluster-config --name {name} "
                f"--access-config authenticationMode=API_AND_CONFIG_MAP` (one-way), wait until it is ACTIVE, "
                f"and retry the hub; or delete the cluster")
        return {"name": name, "status": existing["status"], "reused": True}
    eks.create_cluster(
        name=name, version=version, roleArn=role_arn,
        resourcesVpcConfig={"subnetIds": subnet_ids, "endpointPublicAccess": True},
        # Only access entries: the functions that talk to Kubernetes are made admins by grant_admin; the
        # creating function never does, so it gets no access of its own.
        accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
        tags=tags,
    )
    return {"name": name, "status": "CREATING", "reused": False}


def check_cluster(eks: Any, name: str) -> dict:
    """Return the endpoint once ACTIVE; raise ClusterNotReady before, ClusterFailed on failure."""
    cluster = eks.describe_cluster(name=name)["cluster"]
    status = cluster["status"]
    if status == "ACTIVE":
        return {"name": name, "status": status, "endpoint": cluster["endpoint"], "version": cluster["version"]}
    if status == "FAILED":
        raise ClusterFailed(f"cluster {name} FAILED: {cluster.get('health', {}).get('issues', [])}")
    raise ClusterNotReady(f"cluster {name} is {status}")


def grant_admin(eks: Any, *, name: str, principal_arn: str) -> dict:
    """Give the workflow's Kubernetes role cluster-admin through an EKS access entry (idempotent)."""
    try:
        eks.create_access_entry(clusterName=name, principalArn=principal_arn, type="STANDARD")
    except eks.exceptions.ResourceInUseException:
        pass  # created by an earlier attempt
    eks.associate_access_policy(clusterName=name, principalArn=principal_arn, policyArn=ADMIN_POLICY,
                                accessScope={"type": "cluster"})
    return {"principal_arn": principal_arn, "policy_arn": ADMIN_POLICY}


def create_nodegroup(eks: Any, *, cluster: str, node_role_arn: str, subnet_ids: list[str],
                     instance_type: str, scaling: dict[str, int], tags: dict[str, str]) -> dict:
    """Start creating the node group, or reuse this hub's existing one."""
    try:
        existing = eks.describe_nodegroup(clusterName=cluster, nodegroupName=NODEGROUP)["nodegroup"]
    except eks.exceptions.ResourceNotFoundException:
        existing = None
    if existing is not None:
        return {"name": NODEGROUP, "status": existing["status"], "reused": True}
    eks.create_nodegroup(
        clusterName=cluster, nodegroupName=NODEGROUP, nodeRole=node_role_arn, subnets=subnet_ids,
        instanceTypes=[instance_type], amiType="AL2023_x86_64_STANDARD", capacityType="ON_DEMAND",
        scalingConfig={"minSize": scaling["min_size"], "maxSize": scaling["max_size"],
                       "desiredSize": scaling["desired_size"]},
        labels={"coursehub/hub": tags[HUB_TAG]}, tags=tags,
    )
    return {"name": NODEGROUP, "status": "CREATING", "reused": False}


def check_nodegroup(eks: Any, cluster: str) -> dict:
    """Return the scaling once ACTIVE; raise NodegroupNotReady before, ClusterFailed on failure."""
    nodegroup = eks.describe_nodegroup(clusterName=cluster, nodegroupName=NODEGROUP)["nodegroup"]
    status = nodegroup["status"]
    if status == "ACTIVE":
        return {"name": NODEGROUP, "status": status, "scaling": nodegroup["scalingConfig"]}
    if status in ("CREATE_FAILED", "DEGRADED", "DELETE_FAILED"):
        issues = nodegroup.get("health", {}).get("issues", [])
        raise ClusterFailed(f"node group {NODEGROUP} is {status}: {issues}")
    raise NodegroupNotReady(f"node group {NODEGROUP} is {status}")
