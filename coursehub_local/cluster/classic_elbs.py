"""Classic ELBs for LoadBalancer Services, made and kept as the cloud provider's EnsureLoadBalancer does.

One TCP listener per Service port, the cluster's subnets, a security group ``k8s-elb-<name>`` and the
cluster's running node instances registered. Every call puts the listeners, registrations and health
check back to what the Service says: a bare ``ConfigureHealthCheck`` does not last.
"""
from __future__ import annotations

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
        if running - registered:
            elb.register_instances_with_load_balancer(
                LoadBalancerName=name, Instances=[{"InstanceId": i} for i in sorted(running - registered)])
        if registered - running:
            elb.deregister_instances_from_load_balancer(
                LoadBalancerName=name, Instances=[{"InstanceId": i} for i in sorted(registered - running)])
        return current["DNSName"]

    def delete(self, name: str) -> None:
        """Delete the ELB ``name`` if it exists, and the security groups the provider made for it."""
        current = self.aws.describe_classic(name)
        self.owners.pop(name, None)
        if current is None:
            return
        self.aws.client("elb").delete_load_balancer(LoadBalancerName=name)
        ec2 = self.aws.client("ec2")
        cluster_tag = self.aws.cluster_tag()
        for group in ec2.describe_security_groups(GroupIds=current["SecurityGroups"])["SecurityGroups"]:
            if any(t["Key"] == cluster_tag for t in group.get("Tags", [])):  # never one we did not make
                ec2.delete_security_group(GroupId=group["GroupId"])

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
            TagSpecifications=[{"ResourceType": "security-group", "Tags": self.aws.tags(service)}])["GroupId"]
        sources = [{"CidrIp": c} for c in service["spec"].get("loadBalancerSourceRanges") or ["0.0.0.0/0"]]
        permissions = [{"IpProtocol": p.get("protocol", "TCP").lower(), "FromPort": p["port"], "ToPort": p["port"],
                        "IpRanges": sources} for p in service["spec"]["ports"]]
        permissions.append({"IpProtocol": "icmp", "FromPort": 3, "ToPort": 4, "IpRanges": sources})  # MTU discovery
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=permissions)
        return group


def _listener(listener: dict) -> tuple:
    return (listener["Protocol"].upper(), listener["LoadBalancerPort"], listener["InstanceProtocol"].upper(),
            listener["InstancePort"])
