"""NLBs for Services annotated ``aws-load-balancer-type: nlb`` (in-tree) or ``external`` (AWS Load Balancer Controller).

An elbv2 NLB with one TCP listener and target group per port, instance targets on the NodePorts. A
target group whose name (what cannot change in place) no longer matches is replaced, as the provider does.
Deleting one deletes the NLB, then its target groups (EnsureLoadBalancerDeleted); neither makes a
security group here (the in-tree provider opens the nodes' group instead, which is not modelled).
"""
from __future__ import annotations

from coursehub_local.cluster.cluster_aws import ClusterAws
from coursehub_local.cluster.load_balancer_rules import nlb_health_check, nlb_scheme, target_group_name
from coursehub_local.cluster.services import service_key


class NetworkLbs:
    """The NLBs of one cluster, and which Service each target group belongs to."""

    def __init__(self, aws: ClusterAws):
        self.aws = aws
        self.owners: dict[str, tuple[str, str]] = {}  # target group ARN -> (namespace, service)

    def ensure(self, service: dict, name: str) -> str | None:
        """Create or correct the NLB ``name`` for ``service``; its DNS name (None if no port needs one)."""
        elbv2 = self.aws.client("elbv2")
        mappings = [p for p in service["spec"]["ports"] if p.get("nodePort")]
        if not mappings:
            return None
        current = self.aws.describe_nlb(name)
        if current is None:
            current = elbv2.create_load_balancer(Name=name, Type="network", Subnets=self.aws.subnets(),
                                                 Scheme=nlb_scheme(service),
                                                 Tags=self.aws.tags(service))["LoadBalancers"][0]
        arn = current["LoadBalancerArn"]
        listeners = {(l["Port"], l["Protocol"]): l for l in elbv2.describe_listeners(LoadBalancerArn=arn)["Listeners"]}
        groups = {g["TargetGroupArn"]: g for g in self.aws.target_groups_of(arn)}
        instances = self.aws.node_instances()
        wanted = set()
        for port in mappings:
            protocol = port.get("protocol", "TCP")
            health = nlb_health_check(service)
            group_name = target_group_name(self.aws.ctx.name, service, port, health)
            listener = listeners.get((port["port"], protocol))
            group = groups.get(listener["DefaultActions"][0]["TargetGroupArn"]) if listener else None
            if group is None or group["TargetGroupName"] != group_name:
                group = self._create_target_group(service, port, health, group_name, current["VpcId"])
                forward = [{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}]
                if listener:  # protocol or interval changed: the provider makes a new group
                    elbv2.modify_listener(ListenerArn=listener["ListenerArn"], DefaultActions=forward)
                else:
                    elbv2.create_listener(LoadBalancerArn=arn, Protocol=protocol, Port=port["port"],
                                          DefaultActions=forward, Tags=self.aws.tags(service))
            else:
                self._sync_target_group_health(group, health)
            wanted.add((port["port"], protocol))
            self.owners[group["TargetGroupArn"]] = service_key(service)
            self._sync_targets(group["TargetGroupArn"], port["nodePort"], instances)
        for (port, protocol), listener in listeners.items():
            if (port, protocol) not in wanted:
                elbv2.delete_listener(ListenerArn=listener["ListenerArn"])
        in_use = {listener["DefaultActions"][0]["TargetGroupArn"]
                  for listener in elbv2.describe_listeners(LoadBalancerArn=arn)["Listeners"]}
        for group_arn in set(groups) - in_use:
            elbv2.delete_target_group(TargetGroupArn=group_arn)
            self.owners.pop(group_arn, None)
        return current["DNSName"]

    def delete(self, name: str) -> None:
        """Delete the NLB ``name`` if it exists, then its target groups."""
        current = self.aws.describe_nlb(name)
        if current is None:
            return
        elbv2 = self.aws.client("elbv2")
        groups = self.aws.target_groups_of(current["LoadBalancerArn"])
        elbv2.delete_load_balancer(LoadBalancerArn=current["LoadBalancerArn"])
        for group in groups:  # only once the load balancer no longer uses them
            elbv2.delete_target_group(TargetGroupArn=group["TargetGroupArn"])
            self.owners.pop(group["TargetGroupArn"], None)

    def _create_target_group(self, service: dict, port: dict, health: dict, name: str, vpc: str) -> dict:
        args = dict(Name=name, Protocol=port.get("protocol", "TCP"), Port=port["nodePort"], VpcId=vpc,
                    TargetType="instance", HealthCheckPort=health["port"], HealthCheckProtocol=health["protocol"],
                    HealthCheckIntervalSeconds=health["interval"], HealthyThresholdCount=health["healthy-threshold"],
                    UnhealthyThresholdCount=health["unhealthy-threshold"], HealthCheckTimeoutSeconds=health["timeout"],
                    Tags=self.aws.tags(service, f"{'/'.join(service_key(service))}:{port['port']}"))
        if health["protocol"] != "TCP":
            args["HealthCheckPath"] = health["path"]
        return self.aws.client("elbv2").create_target_group(**args)["TargetGroups"][0]

    def _sync_target_group_health(self, group: dict, health: dict) -> None:
        wanted = {"HealthCheckPort": health["port"], "HealthyThresholdCount": health["healthy-threshold"],
                  "UnhealthyThresholdCount": health["unhealthy-threshold"],
                  "HealthCheckTimeoutSeconds": health["timeout"]}
        if health["protocol"] != "TCP":
            wanted["HealthCheckPath"] = health["path"]
        changed = {k: v for k, v in wanted.items() if group.get(k) != v}
        if changed:
            self.aws.client("elbv2").modify_target_group(TargetGroupArn=group["TargetGroupArn"], **changed)

    def _sync_targets(self, group_arn: str, node_port: int, instances: list[str]) -> None:
        elbv2 = self.aws.client("elbv2")
        health = elbv2.describe_target_health(TargetGroupArn=group_arn)["TargetHealthDescriptions"]
        actual = {(h["Target"]["Id"], h["Target"]["Port"]) for h in health}
        expected = {(i, node_port) for i in instances}
        if expected - actual:
            elbv2.register_targets(TargetGroupArn=group_arn,
                                   Targets=[{"Id": i, "Port": p} for i, p in sorted(expected - actual)])
        if actual - expected:
            elbv2.deregister_targets(TargetGroupArn=group_arn,
                                     Targets=[{"Id": i, "Port": p} for i, p in sorted(actual - expected)])
