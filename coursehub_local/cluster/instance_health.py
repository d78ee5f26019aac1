"""Instance health verdicts for the load balancers the clusters made, patched into moto by ``moto_patches``.

Instance health (``describe_instance_health``; NLB ``describe_target_health`` likewise): an instance
is InService only if it is running AND the health check's port is the NodePort of a port of this
Service whose targetPort (number or name) is a containerPort of a READY workload selected by the
Service's selector (a Deployment, StatefulSet or DaemonSet in its namespace whose pod template labels
include the selector and which has a ready replica); for a ``Local`` Service its healthCheckNodePort
counts once any port has such a backend. Everything else is OutOfService. HTTP paths are assumed to
answer 200. z2jh's proxy-public (first port 443, targetPort ``https`` declared by no container when
HTTPS is off) is therefore OutOfService on every instance.
"""
from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING

from coursehub_local.cluster.workloads import ready_workloads
from coursehub_local.kube.errors import ApiError

if TYPE_CHECKING:
    from coursehub_local.cluster.load_balancers import LoadBalancerController

_controllers: set["LoadBalancerController"] = set()
_registry_lock = threading.Lock()


def instance_health(lb_name: str, target: str) -> bool | None:
    """Whether a running instance passes ``target`` of classic ELB ``lb_name``; None if no cluster owns it."""
    port = _target_port(target)
    for controller in _registered():
        verdict = _passes(controller.ctx.store, controller.classic.get(lb_name), port)
        if verdict is not None:
            return verdict
    return None


def target_health(target_group_arn: str, port: int) -> bool | None:
    """Whether a target passes a health check on ``port`` of an NLB target group; None if not ours."""
    for controller in _registered():
        verdict = _passes(controller.ctx.store, controller.target_groups.get(target_group_arn), port)
        if verdict is not None:
            return verdict
    return None


def register(controller: "LoadBalancerController") -> None:
    """Let the verdicts consult this controller's load balancers."""
    with _registry_lock:
        _controllers.add(controller)


def unregister(controller: "LoadBalancerController") -> None:
    with _registry_lock:
        _controllers.discard(controller)


def _registered() -> list["LoadBalancerController"]:
    with _registry_lock:
        return list(_controllers)


def _passes(store, owner: tuple[str, str] | None, port: int | None) -> bool | None:
    """None if ``owner`` is not a Service here; else whether ``port`` reaches a ready backend."""
    if owner is None:
        return None
    try:
        service = store.get_object("v1", "Service", *owner)
    except ApiError:
        return None
    return port in _healthy_ports(store, service)


def _healthy_ports(store, service: dict) -> set[int]:
    spec = service["spec"]
    selector = spec.get("selector") or {}
    served: set[int | str] = set()
    if selector:
        for workload in ready_workloads(store, service["metadata"]["namespace"], selector):
            template = (workload.get("spec") or {}).get("template") or {}
            for container in (template.get("spec") or {}).get("containers") or []:
                for port in container.get("ports") or []:
                    served.update(x for x in (port.get("containerPort"), port.get("name")) if x)
    ports = {p["nodePort"] for p in spec.get("ports") or []
             if p.get("nodePort") and p.get("targetPort", p.get("port")) in served}
    if ports and spec.get("healthCheckNodePort"):
        ports.add(spec["healthCheckNodePort"])
    return ports


def _target_port(target: str) -> int | None:
    match = re.match(r"^[A-Za-z]+:(\d+)", target or "")
    return int(match.group(1)) if match else None
