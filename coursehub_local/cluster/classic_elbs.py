"""Classic ELBs for LoadBalancer Services, made and kept as the cloud provider's EnsureLoadBalancer does.

One TCP listener per Service port, the cluster's subnets, a security group ``k8s-elb-<name>`` (tagged
``kubernetes.io/cluster/<cluster>: owned`` and the Service's additional tags, as ``ensureSecurityGroup``
tags it) and the cluster's running node instances registered; the nodes' security group (the cluster
security group on EKS) lets in all traffic from the ELB's group (``updateInstanceSecurityGroupsForLoadBalancer``). Every call puts
the listeners, registrations, health check and that rule back to what the Service says: a bare
``ConfigureHealthCheck`` does not last.

Deleting one (EnsureLoadBalancerDeleted) revokes the nodes' rule, deletes the ELB, and leaves its
security group to ``delete_security_groups``: AWS refuses to delete the group (DependencyViolation)
until the ELB has finished deleting in the background, so the provider retries for up to 10 minutes.
"""
from __future__ import annotations

from botocore.exceptions import ClientError

from coursehub_local.cluster.cluster_aws import ClusterAws
from coursehub_local.cluster.load_balancer_rules import classic_health_check, classic_listeners
from coursehub_local.cluster.services import service_key


class ClassicElbs:
    """The classic ELBs of one cluster, and which Service each belongs to."""

    def __init__(self, aws: ClusterAws):
        self.aws = aws
        self.owners: dict[str, tuple[str, str]] = {}  # ELB name -> (namespace, service)

    def ensure(self, service: dict, name: str) -> str | None:
        """Create or correct the ELB ``name`` for ``service``; its DNS name (None if no port needs one)."""
        elb = self.aws.client("elb")
        listeners = classic_listeners(service)
        if not listeners:
            return None
        self.owners[name] = service_key(service)
        current = self.aws.describe_classic(name)
        if current is None:
            group = self._ensure_security_group(service, name)
            elb.create_load_balancer(LoadBalancerName=name, Listeners=listeners, Subnets=self.aws.subnets(),
                                     SecurityGroups=[group], Tags=self.aws.tags(service))
            current = self.aws.describe_classic(name)
        else:
            actual = [d["Listener"] for d in current["ListenerDescriptions"]]
            removals = [a["LoadBalancerPort"] for a in actual if _listener(a) not in map(_listener, listeners)]
            additions = [want for want in listeners if _listener(want) not in map(_listener, actual)]
            if removals:
                elb.delete_load_balancer_listeners(LoadBalancerName=name, LoadBalancerPorts=removals)
            if additions:
                elb.create_load_balancer_listeners(LoadBalancerName=name, Listeners=additions)
        wanted = classic_health_check(service)
        if current.get("HealthCheck") != wanted:
            elb.configure_health_check(LoadBalancerName=name, HealthCheck=wanted)
        registered = {i["InstanceId"] for i in current.get("Instances", [])}
        running = set(self.aws.node_instances())
        self._open_nodes(current["SecurityGroups"][0], running)  # before registering them, as the provider does
        if running - registered:
            elb.register_instances_with_load_balancer(
                LoadBalancerName=name, Instances=[{"InstanceId": i} for i in sorted(running - registered)])
        if registered - running:
            elb.deregister_instances_from_load_balancer(
                LoadBalancerName=name, Instances=[{"InstanceId": i} for i in sorted(registered - running)])
        return current["DNSName"]

    def delete(self, name: str) -> list[str]:
        """Delete the ELB ``name`` if it exists; the security groups the provider made for it, to delete later."""
        current = self.aws.describe_classic(name)
        self.owners.pop(name, None)
        if current is None:
            return []
        ec2 = self.aws.client("ec2")
        groups = [g["GroupId"] for g in ec2.describe_security_groups(GroupIds=current["SecurityGroups"])
                  ["SecurityGroups"] if _has_tag(g, self.aws.cluster_tag())]  # never one we did not make
        self._open_nodes(current["SecurityGroups"][0], set(), deleting=bool(groups))
        self.aws.client("elb").delete_load_balancer(LoadBalancerName=name)
        return groups

    def delete_security_groups(self, groups: list[str]) -> None:
        """Delete what ``delete`` left (once the ELB has released them)."""
        ec2 = self.aws.client("ec2")
        for group in groups:
            try:
                ec2.delete_security_group(GroupId=group)
            except ClientError as error:
                if error.response["Error"]["Code"] != "InvalidGroup.NotFound":
                    raise

    def _open_nodes(self, elb_group: str, instances: set[str], deleting: bool = False) -> None:
        """Allow all traffic from the ELB's group into the nodes' groups, and from no other group of the cluster."""
        ec2 = self.aws.client("ec2")
        rule = [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": elb_group}]}]
        wanted = self.aws.node_security_groups(instances)
        for group in ec2.describe_security_groups(Filters=[{"Name": "ip-permission.group-id",
                                                           "Values": [elb_group]}])["SecurityGroups"]:
            if group["GroupId"] in wanted:
                wanted.discard(group["GroupId"])
            elif deleting or _has_tag(group, self.aws.cluster_tag()):
                ec2.revoke_security_group_ingress(GroupId=group["GroupId"], IpPermissions=rule)
        for group in sorted(wanted):
            ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=rule)

    def _ensure_security_group(self, service: dict, name: str) -> str:
        ec2 = self.aws.client("ec2")
        vpc = self.aws.vpc()
        group_name = f"k8s-elb-{name}"
        found = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [group_name]},
                                                      {"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]
        if found:
            return found[0]["GroupId"]
        group = ec2.create_security_group(
            GroupName=group_name, VpcId=vpc,
            Description=f"Security group for Kubernetes ELB {name} ({'/'.join(service_key(service))})",
            TagSpecifications=[{"ResourceType": "security-group", "Tags": self.aws.owned(service)}])["GroupId"]
        sources = [{"CidrIp": c} for c in service["spec"].get("loadBalancerSourceRanges") or ["0.0.0.0/0"]]
        permissions = [{"IpProtocol": p.get("protocol", "TCP").lower(), "FromPort": p["port"], "ToPort": p["port"],
                        "IpRanges": sources} for p in service["spec"]["ports"]]
        permissions.append({"IpProtocol": "icmp", "FromPort": 3, "ToPort": 4, "IpRanges": sources})  # MTU discovery
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=permissions)
        return group


def _has_tag(resource: dict, key: str) -> bool:
    return any(t["Key"] == key for t in resource.get("Tags", []))


def _listener(listener: dict) -> tuple:
    return (listener["Protocol"].upper(), listener["LoadBalancerPort"], listener["InstanceProtocol"].upper(),
            listener["InstancePort"])
