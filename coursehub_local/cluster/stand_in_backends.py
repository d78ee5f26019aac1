"""What the Services behind the ingress answer: BinderHub, JupyterHub and cert-manager's solver, ready only with their pods.

A Service's backend is chosen by what its selector picks (the charts' ``app``/``component``/``release``
labels, cert-manager's ``acme.cert-manager.io/http01-solver``), never by the Service's name; it answers
only while the cluster has a ready workload (or, for the solver's bare Pod, a ready node) behind it.
"""
from __future__ import annotations

import json
import re
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

from coursehub_local.cluster import binderhub_builds, jupyter_servers
from coursehub_local.cluster.services import service_selector
from coursehub_local.cluster.websocket_upgrade import WEBSOCKET_GUID  # noqa: F401 - where tests find it
from coursehub_local.cluster.workloads import ready_workloads

if TYPE_CHECKING:
    from coursehub_local.cluster.context import ClusterContext

JUPYTERHUB_VERSION = "5.3.0"  # appVersion of the jupyterhub 4.2.0 chart that the binderhub stand-in vendors
SOLVER_LABEL = "acme.cert-manager.io/http01-solver"
BUILD = re.compile(r"^/build/[^/]+/.+$")


@dataclass
class Request:
    """What nginx passes upstream: method, path with query, headers (lower-case names), body, Host."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""
    cluster: "ClusterContext | None" = None  # the cluster whose ingress took the request (clock, timeline)

    @property
    def host(self) -> str:
        return self.headers.get("host", "").rsplit(":", 1)[0].lower()


@dataclass
class Response:
    """An upstream answer: headers after ``header_delay`` simulated seconds, then (delay, bytes) chunks."""

    status: int
    content_type: str = "text/html"
    chunks: Iterable[tuple[float, bytes]] = ()
    headers: dict[str, str] = field(default_factory=dict)
    header_delay: float = 0.0
    streaming: bool = False  # no Content-Length: the body ends when the upstream closes
    upstream: socket.socket | None = None  # after 101: the upstream's end of the upgraded connection

    @classmethod
    def of(cls, status: int, body: bytes, content_type: str = "text/html", **headers: str) -> "Response":
        return cls(status, content_type, [(0, body)], dict(headers))


def respond(store, namespace: str, service_name: str, request: Request, clock=None) -> Response:
    """What the stand-in behind a Service answers; 503 when no ready pod is behind it. ``clock``: the stack's, for
    what takes simulated time (builds)."""
    unavailable = Response.of(503, nginx_page(503, "Service Temporarily Unavailable"))
    selector = service_selector(store, namespace, service_name)
    if selector and selector.get(SOLVER_LABEL) == "true":
        return _solver(store, namespace, selector, request) or unavailable
    if selector is None or not backend_ready(store, namespace, selector):
        return unavailable
    path = request.path.split("?", 1)[0]
    release = selector.get("release")
    hub = backend_ready(store, namespace, {"app": "jupyterhub", "component": "hub", "release": release})
    proxy = backend_ready(store, namespace, {"app": "jupyterhub", "component": "proxy", "release": release})
    if selector.get("app") == "binder":
        if BUILD.match(path) and clock is not None:  # binderhub_builds: BuildHandler's EventSource stream
            status, chunks = binderhub_builds.respond_build(store, clock, namespace, release, path, request.headers)
            return Response(status, "text/event-stream", chunks, {"Cache-Control": "no-cache"}, streaming=True)
        return _binderhub(path, hub and proxy)
    if selector.get("app") == "jupyterhub":
        return _jupyterhub(store, namespace, release, request, hub) or unavailable
    return Response.of(404, nginx_page(404, "Not Found"))


def _binderhub(path: str, hub_ok: bool) -> Response:
    if path == "/health":
        # As binderhub/health.py: registry, JupyterHub API (through the proxy) and the soft pod quota.
        checks = [{"service": "Docker registry", "ok": True}, {"service": "JupyterHub API", "ok": hub_ok},
                  {"service": "Pod quota", "total_pods": 0, "build_pods": 0, "user_pods": 0, "quota": None,
                   "ok": True}]
        return Response.of(200 if hub_ok else 503, json.dumps({"ok": hub_ok, "checks": checks}).encode(),
                           "application/json")
    return Response.of(404, nginx_page(404, "Not Found"))


def _jupyterhub(store, namespace: str, release: str, request: Request, hub: bool) -> Response | None:
    """proxy-public forwards /hub/ to the hub pod and /user/<name>/ to that user's server (jupyter_servers)."""
    path = request.path.split("?", 1)[0]
    if path.rstrip("/") == "/hub/api":
        return Response.of(200, json.dumps({"version": JUPYTERHUB_VERSION}).encode(), "application/json") \
            if hub else None
    if jupyter_servers.USER_PATH.match(path):
        return jupyter_servers.user_request(store, namespace, release, request, hub)
    if jupyter_servers.HUB_USER_PATH.match(path):
        return jupyter_servers.hub_user_request(request) if hub else None
    return Response.of(404, nginx_page(404, "Not Found"))


def _solver(store, namespace: str, selector: dict, request: Request) -> Response | None:
    """cert-manager's acmesolver (pkg/issuer/acme/http/solver/solver.go): the key for its domain and token."""
    if not _ready_node(store):
        return None
    pods = [p for p in store.list(store.resource_type("v1", "Pod"), namespace)[0]
            if all(p["metadata"].get("labels", {}).get(k) == v for k, v in selector.items())]
    if not pods:
        return None
    args = dict(a.lstrip("-").split("=", 1) for a in pods[0]["spec"]["containers"][0].get("args", []) if "=" in a)
    path = request.path.split("?", 1)[0]
    not_found = Response.of(404, b"404 page not found\n", "text/plain; charset=utf-8")  # Go's http.NotFound
    if path.rsplit("/", 1)[0] != "/.well-known/acme-challenge" or request.host != args.get("domain") \
            or path.rsplit("/", 1)[-1] != args.get("token"):
        return not_found
    return Response.of(200, args.get("key", "").encode(), "text/plain; charset=utf-8")


def _ready_node(store) -> bool:
    nodes = store.list(store.resource_type("v1", "Node"))[0]
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for n in nodes for c in n.get("status", {}).get("conditions", []))


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
