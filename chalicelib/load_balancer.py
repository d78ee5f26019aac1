"""The ingress load balancer: find it from the Service's hostname and make its health check probe port 80's NodePort.

The Service carries the health-check annotations (see ``values.HEALTH_CHECK_ANNOTATIONS``),
which the AWS cloud provider keeps applying; this step verifies through the
ELB API that the check really targets the NodePort behind port 80, and patches
it only if not (z2jh issue #1637: with port 443 first, every node shows OutOfService).
Works for classic ELBs and for NLBs (elbv2 target groups).
"""
from __future__ import annotations

from typing import Any

from chalicelib.errors import CourseHubError


class LoadBalancerNotReady(CourseHubError):
    """The ingress Service has no load balancer hostname yet, or AWS does not list it yet (retry later)."""


class NoHttpPort(CourseHubError):
    """The ingress Service has no port 80 to health-check."""


def hostname(service: dict) -> str:
    """The load balancer hostname the cloud provider wrote into the Service status."""
    ingress = service.get("status", {}).get("loadBalancer", {}).get("ingress") or []
    if not ingress or not ingress[0].get("hostname"):
        raise LoadBalancerNotReady(f"service {service['metadata']['name']} has no load balancer hostname yet")
    return ingress[0]["hostname"]


def http_node_port(service: dict) -> int:
    """The NodePort that port 80 forwards to."""
    for port in service.get("spec", {}).get("ports", []):
        if port.get("port") == 80 and port.get("nodePort"):
            return int(port["nodePort"])
    raise NoHttpPort(f"service {service['metadata']['name']} has no port 80 with a NodePort")


def ensure_health_check(elb: Any, elbv2: Any, service: dict) -> dict:
    """Verify (and if needed patch) the health check of the Service's load balancer; returns what was found."""
    dns_name, node_port = hostname(service), http_node_port(service)
    for balancer in _pages(elb, "describe_load_balancers", "LoadBalancerDescriptions"):
        if balancer["DNSName"].lower() == dns_name.lower():
            return _classic(elb, balancer, node_port)
    for balancer in _pages(elbv2, "describe_load_balancers", "LoadBalancers"):
        if balancer["DNSName"].lower() == dns_name.lower():
            return _network(elbv2, balancer, node_port)
    raise LoadBalancerNotReady(f"no load balancer with DNS name {dns_name} yet")


def _classic(elb: Any, balancer: dict, node_port: int) -> dict:
    check = balancer["HealthCheck"]
    target = check["Target"]
    wanted_port = str(node_port)
    protocol, _, rest = target.partition(":")
    port = rest.split("/", 1)[0]
    patched = port != wanted_port
    if patched:
        elb.configure_health_check(LoadBalancerName=balancer["LoadBalancerName"], HealthCheck={
            **{k: check[k] for k in ("Interval", "Timeout", "UnhealthyThreshold", "HealthyThreshold")},
            "Target": f"TCP:{wanted_port}"})
    return {"type": "classic", "name": balancer["LoadBalancerName"], "dns_name": balancer["DNSName"],
            "health_check_was": target, "health_check": f"TCP:{wanted_port}" if patched else target,
            "patched": patched}


def _network(elbv2: Any, balancer: dict, node_port: int) -> dict:
    groups = elbv2.describe_target_groups(LoadBalancerArn=balancer["LoadBalancerArn"])["TargetGroups"]
    http = [g for g in groups if g.get("Port") == node_port]
    if not http:
        raise NoHttpPort(f"no target group of {balancer['LoadBalancerName']} forwards to NodePort {node_port}")
    group = http[0]
    port = group.get("HealthCheckPort", "traffic-port")
    patched = port not in ("traffic-port", str(node_port))
    if patched:
        elbv2.modify_target_group(TargetGroupArn=group["TargetGroupArn"], HealthCheckPort="traffic-port",
                                  HealthCheckProtocol="TCP")
    return {"type": "network", "name": balancer["LoadBalancerName"], "dns_name": balancer["DNSName"],
            "health_check_was": port, "health_check": "traffic-port" if patched else port, "patched": patched}


def _pages(client: Any, operation: str, key: str) -> list[dict]:
    return [item for page in client.get_paginator(operation).paginate() for item in page[key]]
