"""Subnets by Availability Zone ID, on moto's EC2 (whose us-east-1a..f are use1-az6, az1, az2, az4, az3, az5)."""
from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from chalicelib import subnets
from chalicelib.subnets import SubnetsUnsupported


@pytest.fixture
def ec2():
    with mock_aws():
        client = boto3.session.Session().client("ec2", region_name="us-east-1")
        vpc = client.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        client.vpc = vpc
        yield client


def subnet(ec2, zone: str, index: int) -> str:
    made = ec2.create_subnet(VpcId=ec2.vpc, CidrBlock=f"10.9.{index}.0/24", AvailabilityZone=zone)["Subnet"]
    return made["SubnetId"]


def zone_id(ec2, subnet_id: str) -> str:
    return ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["AvailabilityZoneId"]


def test_the_cluster_leaves_out_the_zone_eks_does_not_support(ec2):
    a, e, b = subnet(ec2, "us-east-1a", 1), subnet(ec2, "us-east-1e", 2), subnet(ec2, "us-east-1b", 3)
    assert zone_id(ec2, e) == "use1-az3"  # what the test relies on
    assert subnets.for_cluster(ec2, [a, e, b]) == [a, b]


def test_the_nodes_go_to_the_supported_zone_with_the_lowest_id_whatever_its_name(ec2):
    # us-east-1a is use1-az6 and us-east-1b use1-az1 here: by name the nodes would go to a, by ID to b
    a, b1, b2 = subnet(ec2, "us-east-1a", 1), subnet(ec2, "us-east-1b", 2), subnet(ec2, "us-east-1b", 3)
    e = subnet(ec2, "us-east-1e", 4)
    assert {zone_id(ec2, a), zone_id(ec2, b1)} == {"use1-az6", "use1-az1"}
    assert subnets.for_nodes(ec2, [a, e, b1, b2]) == [b1, b2]


def test_fewer_than_two_supported_zones_is_refused_naming_the_unsupported_one(ec2):
    a1, a2, e = subnet(ec2, "us-east-1a", 1), subnet(ec2, "us-east-1a", 2), subnet(ec2, "us-east-1e", 3)
    with pytest.raises(SubnetsUnsupported, match=r"in 1 Availability Zone.*does not support use1-az3.*SUBNET_IDS"):
        subnets.for_cluster(ec2, [a1, e, a2])
    with pytest.raises(SubnetsUnsupported):
        subnets.for_nodes(ec2, [a1, e, a2])


def test_ten_sorts_after_two():
    assert sorted(["use1-az10", "use1-az2"], key=subnets._zone_order) == ["use1-az2", "use1-az10"]
