"""The EBS CSI driver's controller as the cluster runs it: whether it runs, with which AWS credentials, which tags.

- It runs when the ``aws-ebs-csi-driver`` add-on has put the CSIDriver ``ebs.csi.aws.com`` and its Deployment
  ``kube-system/ebs-csi-controller`` into the cluster and a replica of that Deployment is ready (it needs a node).
- Its AWS credentials come from EKS Pod Identity (EKS user guide, pod-identities and ebs-csi): the
  ``eks-pod-identity-agent`` DaemonSet must have a ready pod, and an association must map
  ``kube-system/ebs-csi-controller-sa`` to a role that exists, trusts ``pods.eks.amazonaws.com`` with
  ``sts:AssumeRole`` and ``sts:TagSession`` (EKS user guide, pod-id-role) and carries ``AmazonEBSCSIDriverPolicy``.
  Without an agent or an association the AWS SDK falls back to the node's instance role, which has no
  ``ec2:CreateVolume`` (the node role's managed policies do not grant it): EC2 answers UnauthorizedOperation, and
  the claim gets the provisioner's event quoted in kubernetes-sigs/aws-ebs-csi-driver #963. A role that cannot be
  assumed fails earlier, while getting credentials (the shape quoted in aws-ebs-csi-driver #2421).
- The tags of a volume are the driver's (``pkg/driver/controller.go`` CreateVolume, ``docs/tagging.md``):
  ``CSIVolumeName``, ``ebs.csi.aws.com/cluster``, the ``kubernetes.io/created-for/*`` tags of the provisioner's
  ``--extra-create-metadata``, with ``--k8s-tag-cluster-id=<id>`` also ``kubernetes.io/cluster/<id>: owned``,
  ``KubernetesCluster`` and ``Name: <id>-dynamic-<pv>``, then the ``--extra-tags``.
"""
from __future__ import annotations

import json

from botocore.exceptions import ClientError

from coursehub_local.addon_objects import CONTROLLER_ACCOUNT, DRIVER, controller_settings
from coursehub_local.cluster.context import ClusterContext
from coursehub_local.cluster.workloads import has_ready_replica
from coursehub_local.kube.errors import ApiError

POLICY = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
UNAUTHORIZED = "UnauthorizedOperation: You are not authorized to perform this operation."


def controller(ctx: ClusterContext) -> dict | None:
    """The driver's controller Deployment if the driver is installed and a replica runs, else None."""
    store = ctx.store
    try:
        store.get_object("storage.k8s.io/v1", "CSIDriver", None, DRIVER)
        deployment = store.get_object("apps/v1", "Deployment", "kube-system", "ebs-csi-controller")
    except ApiError:
        return None
    return deployment if has_ready_replica(deployment) else None


def credentials_problem(ctx: ClusterContext, eks, iam) -> str | None:
    """Why the controller's EC2 calls would fail (EC2's or the SDK's words), or None when they would work."""
    try:
        agent = ctx.store.get_object("apps/v1", "DaemonSet", "kube-system", "eks-pod-identity-agent")
    except ApiError:
        agent = None
    namespace, account = CONTROLLER_ACCOUNT
    associations = eks.list_pod_identity_associations(clusterName=ctx.name, namespace=namespace,
                                                      serviceAccount=account)["associations"]
    if agent is None or not has_ready_replica(agent) or not associations:
        return UNAUTHORIZED  # the node role's credentials, from the instance metadata service
    role_arn = eks.describe_pod_identity_association(
        clusterName=ctx.name, associationId=associations[0]["associationId"])["association"]["roleArn"]
    name = role_arn.rsplit("/", 1)[-1]
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError:
        return _no_credentials(role_arn, "the role does not exist")
    if not _trusts_pod_identity(role.get("AssumeRolePolicyDocument")):
        return _no_credentials(role_arn, "its trust policy does not let pods.eks.amazonaws.com assume it and tag "
                                         "the session")
    attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    if POLICY not in {p["PolicyArn"] for p in attached}:
        return UNAUTHORIZED
    return None


def volume_tags(deployment: dict, claim: dict, pv_name: str) -> dict[str, str]:
    """The tags the driver gives the volume of ``claim``."""
    meta = claim["metadata"]
    tags = {"CSIVolumeName": pv_name, "ebs.csi.aws.com/cluster": "true",
            "kubernetes.io/created-for/pvc/name": meta["name"],
            "kubernetes.io/created-for/pvc/namespace": meta["namespace"],
            "kubernetes.io/created-for/pv/name": pv_name}
    cluster_id, extra = controller_settings(deployment)
    if cluster_id:
        tags.update({f"kubernetes.io/cluster/{cluster_id}": "owned", "Name": f"{cluster_id}-dynamic-{pv_name}",
                     "KubernetesCluster": cluster_id})
    tags.update(extra)
    return tags


def provisioning_failed(storage_class: str, pv_name: str, problem: str) -> str:
    """The external provisioner's ProvisioningFailed message for an EC2 CreateVolume that failed."""
    return (f'failed to provision volume with StorageClass "{storage_class}": rpc error: code = Internal desc = '
            f'Could not create volume "{pv_name}": could not create volume in EC2: {problem}')


def _no_credentials(role_arn: str, why: str) -> str:
    return (f"operation error EC2: CreateVolume, get identity: get credentials: failed to refresh cached "
            f"credentials, EKS Pod Identity could not assume {role_arn}: {why}")


def _trusts_pod_identity(document) -> bool:
    if isinstance(document, str):
        document = json.loads(document)
    for statement in (document or {}).get("Statement", []):
        principal = (statement.get("Principal") or {}).get("Service")
        services = principal if isinstance(principal, list) else [principal]
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        if statement.get("Effect") == "Allow" and "pods.eks.amazonaws.com" in services \
                and {"sts:AssumeRole", "sts:TagSession"} <= set(actions):
            return True
    return False
