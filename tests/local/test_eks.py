"""EKS on the local stack: slow transitions, its own security group and network interfaces, access entries."""
import re
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.conftest import eventually


def new_cluster(stack, eks, **extra):
    name = f"c-{uuid.uuid4().hex[:8]}"
    eks.create_cluster(name=name, roleArn=stack.seeded.roles["eks-cluster"],
                       resourcesVpcConfig={"subnetIds": stack.seeded.subnet_ids}, **extra)
    return name


def cluster_status(eks, name):
    return eks.describe_cluster(name=name)["cluster"]["status"]


def nodegroup(eks, cluster, name="ng"):
    return eks.describe_nodegroup(clusterName=cluster, nodegroupName=name)["nodegroup"]


def test_cluster_and_node_group_pass_through_creating_updating_and_deleting(stack):
    eks = stack.client("eks")
    durations = stack.config.eks
    name = new_cluster(stack, eks)
    assert cluster_status(eks, name) == "CREATING"
    with pytest.raises(ClientError) as early:
        eks.create_nodegroup(clusterName=name, nodegroupName="ng", subnets=stack.seeded.subnet_ids,
                             nodeRole=stack.seeded.roles["eks-node"])
    assert early.value.response["Error"]["Code"] == "InvalidRequestException"

    stack.clock.advance(durations.cluster_create)
    eventually(lambda: cluster_status(eks, name) == "ACTIVE")

    eks.create_nodegroup(clusterName=name, nodegroupName="ng", subnets=stack.seeded.subnet_ids,
                         nodeRole=stack.seeded.roles["eks-node"], instanceTypes=["m5.large"],
                         scalingConfig={"minSize": 1, "maxSize": 3, "desiredSize": 2})
    assert nodegroup(eks, name)["status"] == "CREATING"
    stack.clock.advance(durations.nodegroup_create)
    eventually(lambda: nodegroup(eks, name)["status"] == "ACTIVE")

    update = eks.update_nodegroup_config(clusterName=name, nodegroupName="ng",
                                         scalingConfig={"minSize": 0, "desiredSize": 0, "maxSize": 3})
    assert update["update"]["status"] == "InProgress"
    updating = nodegroup(eks, name)
    assert updating["status"] == "UPDATING"
    assert updating["scalingConfig"]["desiredSize"] == 2  # not visible before the update finishes
    stack.clock.advance(durations.nodegroup_update)
    eventually(lambda: nodegroup(eks, name)["scalingConfig"]["desiredSize"] == 0)
    assert nodegroup(eks, name)["status"] == "ACTIVE"

    with pytest.raises(ClientError) as busy:
        eks.delete_cluster(name=name)  # node groups first, as on AWS
    assert busy.value.response["Error"]["Code"] == "ResourceInUseException"

    eks.delete_nodegroup(clusterName=name, nodegroupName="ng")
    assert nodegroup(eks, name)["status"] == "DELETING"
    stack.clock.advance(durations.nodegroup_delete)
    eventually(lambda: eks.list_nodegroups(clusterName=name)["nodegroups"] == [])

    eks.delete_cluster(name=name)
    assert cluster_status(eks, name) == "DELETING"
    stack.clock.advance(durations.cluster_delete)
    eventually(lambda: name not in eks.list_clusters()["clusters"])
    with pytest.raises(eks.exceptions.ResourceNotFoundException):
        eks.describe_cluster(name=name)


def test_invalid_scaling_is_rejected(stack):
    eks = stack.client("eks")
    name = new_cluster(stack, eks)
    stack.clock.advance(stack.config.eks.cluster_create)
    eventually(lambda: cluster_status(eks, name) == "ACTIVE")
    eks.create_nodegroup(clusterName=name, nodegroupName="ng", subnets=stack.seeded.subnet_ids,
                         nodeRole=stack.seeded.roles["eks-node"],
                         scalingConfig={"minSize": 1, "maxSize": 2, "desiredSize": 1})
    stack.clock.advance(stack.config.eks.nodegroup_create)
    eventually(lambda: nodegroup(eks, name)["status"] == "ACTIVE")
    with pytest.raises(ClientError) as error:
        eks.update_nodegroup_config(clusterName=name, nodegroupName="ng",
                                    scalingConfig={"minSize": 2, "desiredSize": 1, "maxSize": 2})
    assert error.value.response["Error"]["Code"] == "InvalidParameterException"


def test_access_entries_work_as_on_aws(stack):
    eks = stack.client("eks")
    name = new_cluster(stack, eks, accessConfig={"authenticationMode": "API"})
    principal = stack.seeded.roles["lambda"]
    policy = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"

    created = eks.create_access_entry(clusterName=name, principalArn=principal)["accessEntry"]
    assert created["principalArn"] == principal and created["type"] == "STANDARD"
    with pytest.raises(eks.exceptions.ResourceInUseException):
        eks.create_access_entry(clusterName=name, principalArn=principal)
    assert eks.list_access_entries(clusterName=name)["accessEntries"] == [principal]
    assert eks.describe_access_entry(clusterName=name, principalArn=principal)["accessEntry"]["clusterName"] == name

    eks.associate_access_policy(clusterName=name, principalArn=principal, policyArn=policy,
                                accessScope={"type": "cluster"})
    listed = eks.list_associated_access_policies(clusterName=name, principalArn=principal)
    assert [p["policyArn"] for p in listed["associatedAccessPolicies"]] == [policy]
    eks.disassociate_access_policy(clusterName=name, principalArn=principal, policyArn=policy)
    listed = eks.list_associated_access_policies(clusterName=name, principalArn=principal)
    assert listed["associatedAccessPolicies"] == []

    eks.delete_access_entry(clusterName=name, principalArn=principal)
    with pytest.raises(eks.exceptions.ResourceNotFoundException):
        eks.describe_access_entry(clusterName=name, principalArn=principal)
    with pytest.raises(eks.exceptions.ResourceNotFoundException):
        eks.create_access_entry(clusterName="no-such-cluster", principalArn=principal)


def test_an_active_cluster_has_eks_own_security_group_and_network_interfaces_until_it_is_deleted(stack):
    eks, ec2 = stack.client("eks"), stack.client("ec2")
    name = new_cluster(stack, eks)
    interfaces = [{"Name": "description", "Values": [f"Amazon EKS {name}"]}]
    assert ec2.describe_security_groups(Filters=[{"Name": "tag:aws:eks:cluster-name", "Values": [name]}])[
        "SecurityGroups"] == []  # not while CREATING
    stack.clock.advance(stack.config.eks.cluster_create)
    eventually(lambda: cluster_status(eks, name) == "ACTIVE")

    config = eks.describe_cluster(name=name)["cluster"]["resourcesVpcConfig"]
    assert config["vpcId"] == stack.seeded.vpc_id and config["securityGroupIds"] == []
    [group] = ec2.describe_security_groups(GroupIds=[config["clusterSecurityGroupId"]])["SecurityGroups"]
    assert re.fullmatch(rf"eks-cluster-sg-{name}-\d{{10}}", group["GroupName"])
    assert {t["Key"]: t["Value"] for t in group["Tags"]} == {
        f"kubernetes.io/cluster/{name}": "owned", "aws:eks:cluster-name": name, "Name": group["GroupName"]}
    assert [(r["IpProtocol"], [p["GroupId"] for p in r["UserIdGroupPairs"]]) for r in group["IpPermissions"]] == [
        ("-1", [group["GroupId"]])]  # all traffic from itself
    assert [r["IpRanges"] for r in group["IpPermissionsEgress"]] == [[{"CidrIp": "0.0.0.0/0"}]]
    found = ec2.describe_network_interfaces(Filters=interfaces)["NetworkInterfaces"]
    assert sorted(i["SubnetId"] for i in found) == sorted(stack.seeded.subnet_ids)  # one per zone
    assert all(i["Status"] == "in-use" and [g["GroupId"] for g in i["Groups"]] == [group["GroupId"]]
               and i["TagSet"] == [] for i in found)

    eks.delete_cluster(name=name)
    stack.clock.advance(stack.config.eks.cluster_delete)
    eventually(lambda: name not in eks.list_clusters()["clusters"])
    assert ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": [group["GroupId"]]}])[
        "SecurityGroups"] == []
    assert ec2.describe_network_interfaces(Filters=interfaces)["NetworkInterfaces"] == []
