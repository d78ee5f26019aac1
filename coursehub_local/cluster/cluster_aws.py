"""The cluster's side of AWS as the cloud provider sees it: clients, subnets, VPC, node instances, load balancers."""
from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from coursehub_local.cluster.context import ClusterContext
from coursehub_local.cluster.load_balancer_rules import additional_tags, is_external
from coursehub_local.cluster.nodes import cluster_instances, tag_list
from coursehub_local.cluster.services import service_key


class ClusterAws:
    """Look-ups in moto for one cluster's load balancers, with one client per AWS service."""

    def __init__(self, ctx: ClusterContext):
        self.ctx = ctx
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.ctx.client(service)
        return self._clients[service]

    def describe_classic(self, name: str) -> dict | None:
        try:
            return self.client("elb").describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"][0]
        except ClientError as error:
            if error.response["Error"]["Code"] in ("LoadBalancerNotFound", "AccessPointNotFound"):
                return None
            raise

    def describe_nlb(self, name: str) -> dict | None:
        try:
            return self.client("elbv2").describe_load_balancers(Names=[name])["LoadBalancers"][0]
        except ClientError as error:
            if error.response["Error"]["Code"] == "LoadBalancerNotFound":
                return None
            raise

    def target_groups_of(self, load_balancer_arn: str) -> list[dict]:
        try:
            return self.client("elbv2").describe_target_groups(LoadBalancerArn=load_balancer_arn)["TargetGroups"]
        except ClientError as error:
            if error.response["Error"]["Code"] == "TargetGroupNotFound":  # moto, for a balancer without any
                return []
            raise

    def subnets(self) -> list[str]:
        return list(self.ctx.cluster.resources_vpc_config["subnetIds"])

    def vpc(self) -> str:
        subnet = self.client("ec2").describe_subnets(SubnetIds=self.subnets()[:1])["Subnets"][0]
        return subnet["VpcId"]

    def node_instances(self) -> list[str]:
        """Ids of the cluster's running node instances: what the provider registers with its load balancers."""
        return [i["InstanceId"] for i in cluster_instances(self.client("ec2"), self.ctx.name, ("running",))]

    def node_security_groups(self, instances: set[str]) -> set[str]:
        """findSecurityGroupForInstance: each instance's group tagged for the cluster, else its only group."""
        if not instances:
            return set()
        ec2 = self.client("ec2")
        tagged = {g["GroupId"] for g in ec2.describe_security_groups(
            Filters=[{"Name": "tag-key", "Values": [self.cluster_tag()]}])["SecurityGroups"]}
        found = set()
        for reservation in ec2.describe_instances(InstanceIds=sorted(instances))["Reservations"]:
            for instance in reservation["Instances"]:
                groups = [g["GroupId"] for g in instance.get("SecurityGroups", [])]
                mine = [g for g in groups if g in tagged] or groups
                if len(mine) == 1:  # the provider refuses to guess between several
                    found.add(mine[0])
        return found

    def cluster_tag(self) -> str:
        return f"kubernetes.io/cluster/{self.ctx.name}"

    def owned(self, service: dict | None = None) -> list[dict]:
        """The tags ``ensureSecurityGroup`` puts on a group it makes: the Service's additional tags, the cluster's."""
        return tag_list({**(additional_tags(service) if service else {}), self.cluster_tag(): "owned"})

    def tags(self, service: dict, resource: str = "LoadBalancer") -> list[dict]:
        """The tags the provider puts on what it makes for a Service (for ``external``, the Load Balancer Controller's).

        ``resource`` names the Load Balancer Controller's part: ``LoadBalancer``, or ``<ns>/<name>:<port>`` for a
        target group. The cloud provider tags every part alike.
        """
        stack = "/".join(service_key(service))
        extra = additional_tags(service)  # load_balancer_rules.additional_tags: the provider's own tags win
        if is_external(service):
            return tag_list({**extra, "elbv2.k8s.aws/cluster": self.ctx.name, "service.k8s.aws/stack": stack,
                             "service.k8s.aws/resource": resource})
        return tag_list({**extra, self.cluster_tag(): "owned", "kubernetes.io/service-name": stack})
