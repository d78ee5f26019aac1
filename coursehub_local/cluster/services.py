"""What the controllers read off a Service: its key, type, selector and load balancer hostname."""
from __future__ import annotations

import logging
from typing import Callable

from coursehub_local.kube.errors import ApiError

log = logging.getLogger(__name__)


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


def set_finalizer(store, service: dict, finalizer: str, present: bool,
                  unless: Callable[[dict], bool] = lambda current: False) -> bool:
    """Add (or drop) ``finalizer`` on the stored Service; True if nothing changes (it is gone, or ``unless``)."""
    if (finalizer in (service["metadata"].get("finalizers") or [])) == present:
        return True
    rtype = store.resource_type("v1", "Service")
    with store.lock:
        try:
            current = store.get(rtype, *service_key(service))
        except ApiError:
            return True
        if current["metadata"]["uid"] != service["metadata"]["uid"] or unless(current):
            return True
        finalizers = [f for f in current["metadata"].get("finalizers") or [] if f != finalizer]
        current["metadata"]["finalizers"] = finalizers + [finalizer] if present else finalizers
        try:
            store.update(rtype, current, *service_key(service))
        except ApiError as error:  # changed meanwhile: its own event brings it back
            log.debug("finalizer of %s not set: %s", service_key(service), error)
    return False
