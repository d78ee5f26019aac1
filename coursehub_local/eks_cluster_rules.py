"""What EKS refuses in CreateCluster and moto accepts: the Kubernetes version and the access configuration.

- Version: EKS creates clusters only on a version it offers that day, in standard or
  extended support; "On the end of extended support date, you can no longer create new
  Amazon EKS clusters with the unsupported version" (EKS user guide, kubernetes-versions,
  "Amazon EKS extended support FAQs"); a version EKS has not released is refused alike.
  The answer is ``InvalidParameterException: unsupported Kubernetes version 1.24``
  (as users report it: terraform-aws-modules/terraform-aws-eks #3164, 2024;
  hashicorp/terraform-provider-aws #38796). A request without a version gets EKS's
  default, which "might not be the latest version available" (EKS API reference,
  CreateCluster ``version``): here the oldest version in standard support.
  The calendar is ``chalicelib.kubernetes_versions.CALENDAR`` (AWS's dates, with sources).
- ``accessConfig``: ``authenticationMode`` defaults to ``CONFIG_MAP`` through the API
  (EKS API reference, CreateAccessConfigRequest); ``bootstrapClusterCreatorAdminPermissions``
  defaults to true and must be true with CONFIG_MAP ("InvalidParameterException:
  bootstrapClusterCreatorAdminPermissions must be true if cluster authentication mode is set
  to CONFIG_MAP", terraform-aws-modules/terraform-aws-eks #3026,
  crossplane-contrib/provider-upjet-aws #1345). ``describe_cluster`` reports both.
- Access entries need API or API_AND_CONFIG_MAP: on a CONFIG_MAP cluster every access-entry
  call answers ``InvalidRequestException: The cluster's authentication mode must be set to one
  of [API, API_AND_CONFIG_MAP] to perform this operation.`` (upbound/configuration-aws-eks #122
  for DescribeAccessEntry; likelion-devops-7th-team04 #286 for CreateAccessEntry).
"""
from __future__ import annotations

from datetime import date
from typing import Any

from chalicelib.kubernetes_versions import CALENDAR
from coursehub_local import moto_patches

AUTHENTICATION_MODES = ("API", "API_AND_CONFIG_MAP", "CONFIG_MAP")
ACCESS_ENTRY_MODES = ("API", "API_AND_CONFIG_MAP")
ACCESS_ENTRY_REFUSAL = ("The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] "
                        "to perform this operation.")


def default_version(today: date) -> str:
    """The version a CreateCluster without one gets: the oldest one in standard support that day."""
    standard = [v.version for v in CALENDAR.values() if v.offered(today) and not v.extended(today)]
    return min(standard, key=lambda v: tuple(map(int, v.split("."))))


def check_create(name: str, version: str | None, access_config: dict | None, today: date) -> tuple[str, dict]:
    """The cluster's version and access configuration as EKS would store them; raise as EKS refuses."""
    version = version or default_version(today)
    known = CALENDAR.get(version)
    if known is None or not known.offered(today):
        raise moto_patches.eks_error("InvalidParameterException")(
            clusterName=name, message=f"unsupported Kubernetes version {version}")
    given = dict(access_config or {})
    mode = given.get("authenticationMode", "CONFIG_MAP")
    if mode not in AUTHENTICATION_MODES:  # botocore validates the enum first; a raw request could still send it
        raise moto_patches.eks_error("InvalidParameterException")(
            clusterName=name, message=f"Invalid authenticationMode {mode}")
    bootstrap = given.get("bootstrapClusterCreatorAdminPermissions", True)
    if mode == "CONFIG_MAP" and bootstrap is False:
        raise moto_patches.eks_error("InvalidParameterException")(
            clusterName=name,
            message="bootstrapClusterCreatorAdminPermissions must be true if cluster authentication mode is set "
                    "to CONFIG_MAP")
    return version, {"authenticationMode": mode, "bootstrapClusterCreatorAdminPermissions": bootstrap}


def access_entries_refused(cluster: Any) -> str | None:
    """EKS's refusal of an access-entry call on ``cluster`` (None: allowed)."""
    mode = (getattr(cluster, "access_config", None) or {}).get("authenticationMode", "CONFIG_MAP")
    return None if mode in ACCESS_ENTRY_MODES else ACCESS_ENTRY_REFUSAL
