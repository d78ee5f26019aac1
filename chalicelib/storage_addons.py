"""Storage for the hub's database: the EBS CSI driver and EKS Pod Identity as EKS add-ons, start + check.

The JupyterHub chart keeps the hub's database on a 1Gi PersistentVolumeClaim (``hub-db-dir``) that names no
storage class. On EKS >= 1.23 EBS volumes need the ``aws-ebs-csi-driver`` add-on, and since 1.30 EKS marks no
StorageClass default (EKS user guide: ebs-csi, kubernetes-versions-standard), so without what this module creates
the claim stays Pending and the hub never starts. It creates:

- ``eks-pod-identity-agent``, which hands pods the credentials of their service account's role;
- ``aws-ebs-csi-driver`` with ``defaultStorageClass.enabled`` (a default gp3 class, ``ebs-csi-default-sc``),
  ``controller.k8sTagClusterId`` (volumes tagged ``kubernetes.io/cluster/<cluster>``, how the audit finds them)
  and ``controller.extraVolumeTags`` (the hub's own tags) (aws-ebs-csi-driver ``docs/tagging.md``);
- the Pod Identity association of the driver's controller, ``kube-system/ebs-csi-controller-sa``, with the EBS
  CSI role (``AmazonEBSCSIDriverPolicy``; EKS user guide, ebs-csi, "Pod Identity").

What exists is reused, so a rerun goes on. EKS deletes add-ons and associations with the cluster.
"""
from __future__ import annotations

import json
from typing import Any

from chalicelib.errors import CourseHubError

POD_IDENTITY_AGENT = "eks-pod-identity-agent"
EBS_CSI_DRIVER = "aws-ebs-csi-driver"
ADDONS = (POD_IDENTITY_AGENT, EBS_CSI_DRIVER)  # the agent first: the driver's controller needs its credentials
CONTROLLER_NAMESPACE, CONTROLLER_ACCOUNT = "kube-system", "ebs-csi-controller-sa"
FAILED = ("CREATE_FAILED", "DELETE_FAILED", "UPDATE_FAILED", "DELETING")


class StorageAddonsNotReady(CourseHubError):
    """An add-on is still being created, or its workload is not running yet (retry later)."""


class StorageAddonsFailed(CourseHubError):
    """An add-on failed or is being deleted: EKS reports it, with its health issues."""


def driver_configuration(cluster: str, volume_tags: dict[str, str]) -> str:
    """The ``configurationValues`` of the EBS CSI driver add-on (JSON, as EKS takes them)."""
    return json.dumps({"defaultStorageClass": {"enabled": True},
                       "controller": {"k8sTagClusterId": cluster, "extraVolumeTags": volume_tags}},
                      sort_keys=True)


def create(eks: Any, *, cluster: str, role_arn: str, tags: dict[str, str]) -> dict:
    """Start creating the two add-ons and the driver's association (each reused if it exists), all with ``tags``.

    The driver puts ``tags`` on every volume it creates too (``extraVolumeTags``): the audit may delete only
    volumes tagged with its stage (.chalice/policy-audit-hub.json).
    """
    outcome = {}
    for name in ADDONS:
        extra = {"configurationValues": driver_configuration(cluster, tags)} if name == EBS_CSI_DRIVER else {}
        try:
            eks.create_addon(clusterName=cluster, addonName=name, tags=tags, **extra)
            outcome[name] = "created"
        except eks.exceptions.ResourceInUseException:
            outcome[name] = "reused"  # made by an earlier attempt
    associations = eks.list_pod_identity_associations(clusterName=cluster, namespace=CONTROLLER_NAMESPACE,
                                                      serviceAccount=CONTROLLER_ACCOUNT)["associations"]
    if associations:
        association, outcome["association"] = associations[0]["associationId"], "reused"
    else:
        association = eks.create_pod_identity_association(
            clusterName=cluster, namespace=CONTROLLER_NAMESPACE, serviceAccount=CONTROLLER_ACCOUNT,
            roleArn=role_arn, tags=tags)["association"]["associationId"]
        outcome["association"] = "created"
    return {"addons": {name: outcome[name] for name in ADDONS}, "association": association,
            "association_outcome": outcome["association"]}


def check(eks: Any, cluster: str) -> dict:
    """Each add-on's version once all are ACTIVE; StorageAddonsNotReady before, StorageAddonsFailed on failure."""
    waiting, versions = [], {}
    for name in ADDONS:
        addon = eks.describe_addon(clusterName=cluster, addonName=name)["addon"]
        status = addon["status"]
        if status in FAILED:
            issues = "; ".join(f"{i.get('code')}: {i.get('message')}"
                               for i in addon.get("health", {}).get("issues", []))
            raise StorageAddonsFailed(f"add-on {name} is {status}" + (f" ({issues})" if issues else ""))
        if status != "ACTIVE":
            waiting.append(f"{name} is {status}")  # CREATING, or DEGRADED until its pods run
        versions[name] = addon.get("addonVersion", "")
    if waiting:
        raise StorageAddonsNotReady("; ".join(waiting))
    return {"addons": versions}
