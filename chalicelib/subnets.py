"""Which of the stage's subnets a hub's cluster and node group use, chosen by Availability Zone ID.

EKS does not place clusters in some zones: ``use1-az3``, ``usw1-az2`` and ``cac1-az3``
(EKS user guide, network requirements; a subnet there fails CreateCluster with
``UnsupportedAvailabilityZoneException``, "Cannot create cluster '...' because us-east-1e, the
targeted availability zone, does not currently have sufficient capacity to support the cluster",
EKS user guide, troubleshooting "Insufficient capacity"). The exclusions are AZ IDs: an AZ *name*
such as ``us-east-1e`` maps to a different zone in each account (EC2 user guide, "AZ IDs"), so a
choice by name would not mean the same zone in two accounts. A cluster needs subnets in at least
two zones ("Subnets specified must be in at least two different AZs", EKS API reference, CreateCluster).
"""
from __future__ import annotations

from typing import Any

from chalicelib.errors import CourseHubError

EKS_UNSUPPORTED_ZONE_IDS = frozenset({"use1-az3", "usw1-az2", "cac1-az3"})


class SubnetsUnsupported(CourseHubError):
    """The stage's subnets leave fewer than two Availability Zones EKS supports."""


def _zones(ec2: Any, subnet_ids: list[str]) -> dict[str, str]:
    """Each subnet's AZ ID, in the order given."""
    described = {s["SubnetId"]: s["AvailabilityZoneId"] for s in ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"]}
    return {subnet: described[subnet] for subnet in subnet_ids}


def _supported(ec2: Any, subnet_ids: list[str]) -> dict[str, str]:
    zones = _zones(ec2, subnet_ids)
    supported = {subnet: zone for subnet, zone in zones.items() if zone not in EKS_UNSUPPORTED_ZONE_IDS}
    if len(set(supported.values())) < 2:
        left_out = sorted({zone for zone in zones.values() if zone in EKS_UNSUPPORTED_ZONE_IDS})
        raise SubnetsUnsupported(
            f"the stage's subnets ({', '.join(subnet_ids)}) are in {len(set(supported.values()))} Availability "
            f"Zone(s) EKS supports" + (f" (EKS does not support {', '.join(left_out)})" if left_out else "")
            + "; a cluster needs subnets in at least two: set SUBNET_IDS (the SubnetIds parameter) to subnets in "
            "two other zones")
    return supported


def _zone_order(zone_id: str) -> tuple[str, int]:
    """``use1-az2`` before ``use1-az10``."""
    prefix, _, number = zone_id.rpartition("-az")
    return prefix, int(number) if number.isdigit() else 0


def for_cluster(ec2: Any, subnet_ids: list[str]) -> list[str]:
    """The subnets EKS can place the cluster in: those outside the zones it does not support (at least two zones)."""
    return list(_supported(ec2, subnet_ids))


def for_nodes(ec2: Any, subnet_ids: list[str]) -> list[str]:
    """The cluster subnets of one zone, the supported one with the lowest AZ ID: the same zone in every account.

    An EBS volume lives in one zone and a pod using it runs only on a node there (EKS user guide, ebs-csi). The
    hub's database volume is made in the zone of the node its pod first runs on; a node group spread over several
    zones could later (after scaling to zero and back) have no node in that zone, and the hub would never start.
    """
    supported = _supported(ec2, subnet_ids)
    zone = min(supported.values(), key=_zone_order)
    return [subnet for subnet, in_zone in supported.items() if in_zone == zone]
