"""What EKS refuses in CreateCluster and moto accepts: the Kubernetes version, the access configuration, the subnets.

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
- Subnets: "you specify a VPC and at least two subnets that are in different Availability Zones" (EKS user
  guide, network-reqs); fewer answer ``InvalidParameterException: Subnets specified must be in at least two
  different AZs`` (as users report it, e.g. terraform-aws-modules examples). EKS does not support the zones
  ``use1-az3``, ``usw1-az2`` and ``cac1-az3`` (AZ IDs; EKS user guide, network requirements): a subnet there
  answers ``UnsupportedAvailabilityZoneException`` with ``validZones`` (EKS API reference), worded as in the
  EKS user guide's troubleshooting ("Insufficient capacity"): "Cannot create cluster 'example-cluster' because
  us-east-1d, the targeted availability zone, does not currently have sufficient capacity to support the
  cluster. Retry and choose from these availability zones: us-east-1a, us-east-1b, us-east-1c".
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


UNSUPPORTED_ZONE_IDS = frozenset({"use1-az3", "usw1-az2", "cac1-az3"})


def check_subnets(name: str, zones: list[tuple[str, str]], region_zones: list[tuple[str, str]]) -> None:
    """Raise as EKS does for subnets in ``zones`` (each subnet's AZ name and ID) of a region with ``region_zones``."""
    for zone_name, zone_id in zones:
        if zone_id in UNSUPPORTED_ZONE_IDS:
            valid = [n for n, i in region_zones if i not in UNSUPPORTED_ZONE_IDS]
            raise moto_patches.eks_error("UnsupportedAvailabilityZoneException")(
                clusterName=name, validZones=valid,
                message=f"Cannot create cluster '{name}' because {zone_name}, the targeted availability zone, does "
                        f"not currently have sufficient capacity to support the cluster. Retry and choose from these "
                        f"availability zones: {', '.join(valid)}")
    if len({zone_id for _, zone_id in zones}) < 2:
        raise moto_patches.eks_error("InvalidParameterException")(
            clusterName=name, message="Subnets specified must be in at least two different AZs")


def access_entries_refused(cluster: Any) -> str | None:
    """EKS's refusal of an access-entry call on ``cluster`` (None: allowed)."""
    mode = (getattr(cluster, "access_config", None) or {}).get("authenticationMode", "CONFIG_MAP")
    return None if mode in ACCESS_ENTRY_MODES else ACCESS_ENTRY_REFUSAL
