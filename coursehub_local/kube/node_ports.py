"""NodePorts of Services, allocated by kube-apiserver in the same write that stores the Service.

What kubernetes ``pkg/registry/core/service/storage`` does (``patchAllocatedValues``,
``dropTypeDependentFields``, the ``portallocator`` transaction):

- A ``NodePort`` or ``LoadBalancer`` Service gets a free NodePort (30000-32767, unique in the cluster)
  for every port without one, and an ``externalTrafficPolicy: Local`` LoadBalancer a
  ``healthCheckNodePort``; ``allocateLoadBalancerNodePorts: false`` leaves a LoadBalancer without.
- An update that leaves a NodePort out keeps the one the port of the same name had ("clients
  resubmit the same YAML"), so a Service never gets new NodePorts behind its load balancer's back.
- A NodePort another Service holds, or one out of range, is refused with 422: "provided port is
  already allocated" / "provided port is not in the valid range".
- A Service that stops needing NodePorts (type ClusterIP) drops the ones it had.
"""
from __future__ import annotations

import random
from typing import Iterable

from .errors import invalid

NODE_PORTS = (30000, 32767)


def needs_node_ports(spec: dict) -> bool:
    """``needsNodePort``: NodePort, or LoadBalancer unless allocateLoadBalancerNodePorts is false."""
    kind = spec.get("type")
    return kind == "NodePort" or (kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True))


def _needs_health_check_port(spec: dict) -> bool:
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def allocate(service: dict, old: dict | None, others: Iterable[dict]) -> None:
    """Fill in (or keep, or drop) ``service``'s NodePorts in place; 422 if one is taken or out of range."""
    spec = service.setdefault("spec", {})
    old_spec = (old or {}).get("spec") or {}
    ports = spec.get("ports") or []
    if not needs_node_ports(spec):
        if old is not None and needs_node_ports(old_spec):  # dropTypeDependentFields
            for port in ports:
                port.pop("nodePort", None)
        if not _needs_health_check_port(spec):
            spec.pop("healthCheckNodePort", None)
        return
    if old is not None and needs_node_ports(old_spec):  # patchAllocatedValues
        kept = {p.get("nodePort") for p in old_spec.get("ports") or []} & {p.get("nodePort") for p in ports}
        by_name = {p.get("name", ""): p.get("nodePort") for p in old_spec.get("ports") or []}
        for port in ports:
            if not port.get("nodePort") and by_name.get(port.get("name", "")) not in kept:
                port["nodePort"] = by_name.get(port.get("name", ""))
        if _needs_health_check_port(old_spec) and not spec.get("healthCheckNodePort"):
            spec["healthCheckNodePort"] = old_spec.get("healthCheckNodePort")
    used = _used(others, service)
    name = service["metadata"].get("name", "")
    for index, port in enumerate(ports):
        if port.get("nodePort"):
            _check(port["nodePort"], used, name, f"spec.ports[{index}].nodePort")
        else:
            port["nodePort"] = _free(used)
        used.add(port["nodePort"])
    if _needs_health_check_port(spec):
        if spec.get("healthCheckNodePort"):
            _check(spec["healthCheckNodePort"], used, name, "spec.healthCheckNodePort")
        else:
            spec["healthCheckNodePort"] = _free(used)
    else:
        spec.pop("healthCheckNodePort", None)


def _used(others: Iterable[dict], service: dict) -> set[int]:
    uid, used = service["metadata"].get("uid"), set()
    for other in others:
        if uid and other["metadata"].get("uid") == uid:
            continue
        if other["metadata"].get("namespace") == service["metadata"].get("namespace") \
                and other["metadata"].get("name") == service["metadata"].get("name"):
            continue
        spec = other.get("spec") or {}
        used.update(p["nodePort"] for p in spec.get("ports") or [] if p.get("nodePort"))
        if spec.get("healthCheckNodePort"):
            used.add(spec["healthCheckNodePort"])
    return used


def _check(port: int, used: set[int], name: str, field: str) -> None:
    low, high = NODE_PORTS
    if not isinstance(port, int) or not low <= port <= high:
        raise invalid("Service", "", name, [(field, f"Invalid value: {port}: provided port is not in the valid "
                                                   f"range. The range of valid ports is {low}-{high}")])
    if port in used:
        raise invalid("Service", "", name, [(field, f"Invalid value: {port}: provided port is already allocated")])


def _free(used: set[int]) -> int:
    low, high = NODE_PORTS
    if len(used) > high - low:
        raise invalid("Service", "", "", [("spec.ports", "range is full")])
    while True:
        port = random.randint(low, high)
        if port not in used:
            return port
