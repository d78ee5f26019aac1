"""What the controllers read off a Service: its key, type, selector and load balancer hostname."""
from __future__ import annotations

from coursehub_local.kube.errors import ApiError


def service_key(service: dict) -> tuple[str, str]:
    """(namespace, name) of a Service."""
    return service["metadata"]["namespace"], service["metadata"]["name"]


def is_load_balancer(service: dict) -> bool:
    """Whether the Service is of type LoadBalancer."""
    return (service.get("spec") or {}).get("type") == "LoadBalancer"


def load_balancer_hostname(service: dict) -> str | None:
    """The first load balancer hostname in a Service's status, if it has one yet."""
    entries = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or [{}]
    return entries[0].get("hostname")


def service_selector(store, namespace: str, name: str) -> dict | None:
    """The pod selector of a Service ({} if it has none); None if there is no such Service."""
    try:
        service = store.get_object("v1", "Service", namespace, name)
    except ApiError:
        return None
    return (service.get("spec") or {}).get("selector") or {}
