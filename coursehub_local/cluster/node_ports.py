"""NodePorts (30000-32767, unique in the cluster) for Services of type NodePort and LoadBalancer.

kube-apiserver's job on EKS: a port without one gets a free NodePort (ports already set are kept, and a
port rewritten in place keeps the one it had), and an ``externalTrafficPolicy: Local`` LoadBalancer
Service gets a ``healthCheckNodePort``.
"""
from __future__ import annotations

import logging
import random

from coursehub_local.cluster.services import service_key
from coursehub_local.kube.errors import ApiError

log = logging.getLogger(__name__)
NODE_PORTS = (30000, 32767)


def ensure_node_ports(store, service: dict, old: dict | None) -> bool:
    """True if every port already has a NodePort; otherwise allocate them and store the Service."""
    spec = service["spec"]
    local = spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"
    if all(p.get("nodePort") for p in spec.get("ports") or []) and (spec.get("healthCheckNodePort") or not local):
        return True
    rtype = store.resource_type("v1", "Service")
    with store.lock:
        try:
            current = store.get(rtype, service["metadata"]["namespace"], service["metadata"]["name"])
        except ApiError:
            return False
        if current["metadata"]["uid"] != service["metadata"]["uid"]:
            return False
        used = _used_node_ports(store)
        before = {(p.get("port"), p.get("protocol")): p.get("nodePort")
                  for p in ((old or {}).get("spec") or {}).get("ports") or []}
        for port in current["spec"].get("ports") or []:
            if not port.get("nodePort"):
                port["nodePort"] = before.get((port.get("port"), port.get("protocol"))) or _free(used)
                used.add(port["nodePort"])
        if local and not current["spec"].get("healthCheckNodePort"):
            current["spec"]["healthCheckNodePort"] = _free(used)
        try:
            store.update(rtype, current, current["metadata"]["namespace"], current["metadata"]["name"])
        except ApiError as error:  # changed meanwhile: its own event brings it back here
            log.debug("NodePorts of %s not stored: %s", service_key(service), error)
    return False


def _used_node_ports(store) -> set[int]:
    used = set()
    for service in store.list(store.resource_type("v1", "Service"))[0]:
        used.update(p["nodePort"] for p in service["spec"].get("ports") or [] if p.get("nodePort"))
        if service["spec"].get("healthCheckNodePort"):
            used.add(service["spec"]["healthCheckNodePort"])
    return used


def _free(used: set[int]) -> int:
    while True:
        port = random.randint(*NODE_PORTS)
        if port not in used:
            return port
