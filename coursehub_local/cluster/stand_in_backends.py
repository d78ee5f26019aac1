"""What the Services behind the ingress answer: BinderHub and JupyterHub stand-ins, ready only with their workloads."""
from __future__ import annotations

import json

from coursehub_local.cluster.services import service_selector
from coursehub_local.cluster.workloads import ready_workloads

JUPYTERHUB_VERSION = "5.3.0"  # appVersion of the jupyterhub 4.2.0 chart that the binderhub stand-in vendors


def backend_response(store, namespace: str, service_name: str, path: str) -> tuple[int, bytes, str]:
    """What the stand-in behind a Service answers: (status, body, content type); 503 when not ready."""
    unavailable = (503, nginx_page(503, "Service Temporarily Unavailable"), "text/html")
    selector = service_selector(store, namespace, service_name)
    if selector is None or not backend_ready(store, namespace, selector):
        return unavailable
    release = selector.get("release")
    hub = backend_ready(store, namespace, {"app": "jupyterhub", "component": "hub", "release": release})
    proxy = backend_ready(store, namespace, {"app": "jupyterhub", "component": "proxy", "release": release})
    if selector.get("app") == "binder" and path == "/health":
        # As binderhub/health.py: registry, JupyterHub API (through the proxy) and the soft pod quota.
        checks = [{"service": "Docker registry", "ok": True}, {"service": "JupyterHub API", "ok": hub and proxy},
                  {"service": "Pod quota", "total_pods": 0, "build_pods": 0, "user_pods": 0, "quota": None,
                   "ok": True}]
        body = json.dumps({"ok": hub and proxy, "checks": checks}).encode()
        return (200 if hub and proxy else 503), body, "application/json"
    if selector.get("app") == "jupyterhub" and path.rstrip("/") == "/hub/api":
        if not hub:  # proxy-public and proxy-http forward /hub/ to the hub pod
            return unavailable
        return 200, json.dumps({"version": JUPYTERHUB_VERSION}).encode(), "application/json"
    return 404, nginx_page(404, "Not Found"), "text/html"


def backend_ready(store, namespace: str, selector: dict) -> bool:
    """Whether a Deployment or StatefulSet whose pods the selector picks has a ready replica."""
    if not selector or None in selector.values():
        return False
    return bool(ready_workloads(store, namespace, selector))


def nginx_page(status: int, reason: str) -> bytes:
    """The HTML page nginx sends with an error status."""
    return (f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
            f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n").encode()
