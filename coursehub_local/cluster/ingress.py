"""The NGINX Ingress Controller's part: Ingress status, and HTTPS on each controller Service's load balancer.

For every IngressClass whose controller is ``nginx.org/ingress-controller``, the
controller Service is the LoadBalancer Service of the same chart release (same
``app.kubernetes.io/name`` and ``app.kubernetes.io/instance`` labels). Ingresses
of that class get the Service's ``status.loadBalancer.ingress``, as the real
controller's ``-external-service`` flag does. Once the Service has a load
balancer, a local HTTPS front stands in for it: SNI picks the Ingress's TLS
Secret (a self-signed default certificate otherwise, like nginx's), Host and
path pick the backend Service, and stand-in backends answer for BinderHub and
JupyterHub only when the workloads behind them are ready.
"""
from __future__ import annotations

import base64
import json
import logging
import os
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from coursehub_local.acme_ca import self_signed
from coursehub_local.cluster.context import ClusterContext
from coursehub_local.dns import LocalDns
from coursehub_local.kube.errors import ApiError

log = logging.getLogger(__name__)
CONTROLLER = "nginx.org/ingress-controller"
CLASS_ANNOTATION = "kubernetes.io/ingress.class"  # the legacy way to name the class
DEFAULT_CLASS = "ingressclass.kubernetes.io/is-default-class"
RELEASE_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/instance")
WATCHED = {("", "services"), ("networking.k8s.io", "ingresses"), ("networking.k8s.io", "ingressclasses")}
JUPYTERHUB_VERSION = "5.3.0"  # appVersion of the jupyterhub 4.2.0 chart that the binderhub stand-in vendors


class IngressController:
    """Keeps Ingress status and one HTTPS front per controller Service in step with the cluster."""

    def __init__(self, ctx: ClusterContext, dns: LocalDns):
        self.ctx, self.dns = ctx, dns
        self.fronts: dict[tuple[str, str], HttpsFront] = {}
        self._wake, self._stopping = threading.Event(), threading.Event()
        self._unsubscribe = None
        self._thread = threading.Thread(target=self._run, name=f"ingress-{ctx.name}", daemon=True)

    def start(self) -> None:
        self._unsubscribe = self.ctx.store.subscribe(self._on_event)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._unsubscribe:
            self._unsubscribe()
        self._thread.join(timeout=5)
        for front in self.fronts.values():
            front.close()
        self.fronts.clear()

    def ingresses_of(self, service: dict) -> list[dict]:
        """The Ingresses whose class the given controller Service serves."""
        classes = {name for name, s in controller_services(self.ctx.store).items()
                   if s["metadata"]["uid"] == service["metadata"]["uid"]}
        store = self.ctx.store
        return [i for i in store.list(store.resource_type("networking.k8s.io/v1", "Ingress"))[0]
                if ingress_class(i) in classes]

    def sync(self) -> None:
        """Start or stop fronts, then copy load balancer status onto the Ingresses."""
        served = controller_services(self.ctx.store)
        wanted = {}
        for service in served.values():
            hostname = load_balancer_hostname(service)
            if hostname:
                wanted[(service["metadata"]["namespace"], service["metadata"]["name"])] = hostname
        for key in list(self.fronts):
            if self.fronts[key].load_balancer != wanted.get(key):
                self.fronts.pop(key).close()
        for key, hostname in wanted.items():
            if key not in self.fronts:
                self.fronts[key] = HttpsFront(self, key, hostname)
        store = self.ctx.store
        for ingress in store.list(store.resource_type("networking.k8s.io/v1", "Ingress"))[0]:
            service = served.get(ingress_class(ingress))
            if service is None:
                continue
            balancers = [{k: v for k, v in entry.items() if k in ("hostname", "ip")}
                         for entry in service.get("status", {}).get("loadBalancer", {}).get("ingress", [])]
            status = {"loadBalancer": {"ingress": balancers} if balancers else {}}
            if ingress.get("status") != status:
                try:
                    store.set_status("networking.k8s.io/v1", "Ingress", ingress["metadata"]["namespace"],
                                     ingress["metadata"]["name"], status)
                except ApiError as error:
                    log.debug("status of Ingress %s not set: %s", ingress["metadata"]["name"], error)

    def _on_event(self, event) -> None:
        if event.key in WATCHED:
            self._wake.set()

    def _run(self) -> None:
        self._wake.set()
        while not self._stopping.is_set():
            if self._wake.wait(0.5) and not self._stopping.is_set():
                self._wake.clear()
                try:
                    self.sync()
                except Exception:  # noqa: BLE001 - keep serving; the next change retries
                    log.exception("ingress sync failed in cluster %s", self.ctx.name)


def controller_services(store) -> dict[str, dict]:
    """Ingress class name -> the LoadBalancer Service of the nginx-ingress release serving it ('' = default class)."""
    classes = [c for c in store.list(store.resource_type("networking.k8s.io/v1", "IngressClass"))[0]
               if c.get("spec", {}).get("controller") == CONTROLLER]
    services = [s for s in store.list(store.resource_type("v1", "Service"))[0]
                if s.get("spec", {}).get("type") == "LoadBalancer"]
    served = {}
    for cls in classes:
        labels = cls["metadata"].get("labels", {})
        want = {k: labels.get(k) for k in RELEASE_LABELS}
        match = next((s for s in services if None not in want.values()
                      and all(s["metadata"].get("labels", {}).get(k) == v for k, v in want.items())), None)
        if match:
            served[cls["metadata"]["name"]] = match
            if cls["metadata"].get("annotations", {}).get(DEFAULT_CLASS) == "true":
                served[""] = match  # Ingresses that name no class
    return served


def ingress_class(ingress: dict) -> str:
    """The class an Ingress asks for: spec.ingressClassName, else the legacy annotation, else '' (default)."""
    return (ingress.get("spec", {}).get("ingressClassName")
            or ingress["metadata"].get("annotations", {}).get(CLASS_ANNOTATION) or "")


def load_balancer_hostname(service: dict) -> str | None:
    """The first load balancer hostname in a Service's status, if it has one yet."""
    entries = service.get("status", {}).get("loadBalancer", {}).get("ingress") or [{}]
    return entries[0].get("hostname")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, front: "HttpsFront"):
        self.front = front
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self):
        sock, address = self.socket.accept()  # the handshake runs in the request's thread (see _Handler.setup)
        return self.front.default_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request, client_address) -> None:
        log.debug("HTTPS connection from %s ended with an error", client_address, exc_info=True)


class HttpsFront:
    """HTTPS on 127.0.0.1 for one controller Service: what its load balancer's port 443 would serve."""

    def __init__(self, controller: IngressController, service_key: tuple[str, str], load_balancer: str):
        self.controller, self.service_key, self.load_balancer = controller, service_key, load_balancer
        self._contexts: dict[tuple[str, str], tuple[str, ssl.SSLContext]] = {}
        self.default_context = self._context(*self_signed("NGINXIngressController"))
        self.default_context.sni_callback = self._choose_certificate
        self.server = _Server(self)
        self.address = self.server.server_address[:2]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                         name=f"ingress-front-{service_key[1]}", daemon=True).start()
        controller.dns.register_front(load_balancer, self.address)

    def close(self) -> None:
        self.controller.dns.unregister_front(self.load_balancer, self.address)
        self.server.shutdown()
        self.server.server_close()

    def controller_ready(self) -> bool:
        """Whether a controller pod is ready behind the Service (else the load balancer has nowhere to send)."""
        try:
            service = self.controller.ctx.store.get_object("v1", "Service", *self.service_key)
        except ApiError:
            return False
        return _ready(self.controller.ctx.store, self.service_key[0], service["spec"].get("selector") or {})

    def ingresses(self) -> list[dict]:
        store = self.controller.ctx.store
        try:
            service = store.get_object("v1", "Service", *self.service_key)
        except ApiError:
            return []
        return self.controller.ingresses_of(service)

    def _choose_certificate(self, sock: ssl.SSLObject, server_name: str | None, _context) -> None:
        for ingress in self.ingresses() if server_name else []:
            for tls in ingress.get("spec", {}).get("tls", []):
                if _host_matches(server_name.lower(), [h.lower() for h in tls.get("hosts", [])]):
                    context = self._secret_context(ingress["metadata"]["namespace"], tls.get("secretName"))
                    if context:
                        sock.context = context
                    return None
        return None

    def _secret_context(self, namespace: str, name: str | None) -> ssl.SSLContext | None:
        try:
            secret = self.controller.ctx.store.get_object("v1", "Secret", namespace, name or "")
        except ApiError:
            return None
        data = secret.get("data", {})
        if secret.get("type") != "kubernetes.io/tls" or not data.get("tls.crt") or not data.get("tls.key"):
            return None
        version = secret["metadata"]["resourceVersion"]
        cached = self._contexts.get((namespace, name))
        if cached is None or cached[0] != version:
            context = self._context(base64.b64decode(data["tls.crt"]), base64.b64decode(data["tls.key"]))
            cached = self._contexts[(namespace, name)] = (version, context)
        return cached[1]

    @staticmethod
    def _context(cert_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.set_alpn_protocols(["http/1.1"])
        with tempfile.TemporaryDirectory() as tmp:  # ssl loads certificates from files only
            cert, key = os.path.join(tmp, "tls.crt"), os.path.join(tmp, "tls.key")
            with open(cert, "wb") as out:
                out.write(cert_pem)
            with open(os.open(key, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as out:
                out.write(key_pem)
            context.load_cert_chain(cert, key)
        return context

    def route(self, host: str, path: str) -> tuple[str, str] | None:
        """(namespace, Service name) for a request, by Host then longest matching path, as nginx routes."""
        best: tuple[tuple[int, int], tuple[str, str]] | None = None
        for ingress in self.ingresses():
            namespace = ingress["metadata"]["namespace"]
            for rule in ingress.get("spec", {}).get("rules", []):
                rule_host = rule.get("host", "").lower()
                if rule_host and not _host_matches(host, [rule_host]):
                    continue
                host_rank = 2 if rule_host == host else 1 if rule_host else 0
                for item in rule.get("http", {}).get("paths", []):
                    prefix = item.get("path") or "/"
                    if not _path_matches(path, prefix, item.get("pathType", "Prefix")):
                        continue
                    rank = (host_rank, len(prefix))
                    if best is None or rank > best[0]:
                        best = (rank, (namespace, item["backend"]["service"]["name"]))
        return best[1] if best else None


def _host_matches(host: str, patterns: list[str]) -> bool:
    return any(host == p or (p.startswith("*.") and host.split(".", 1)[-1] == p[2:]) for p in patterns)


def _path_matches(path: str, prefix: str, path_type: str) -> bool:
    path = path.split("?", 1)[0]
    if path_type == "Exact":
        return path == prefix
    prefix = prefix.rstrip("/")
    return path == prefix or path.startswith(prefix + "/") or not prefix


class _Handler(BaseHTTPRequestHandler):
    server_version = "nginx"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        self.request.settimeout(30)
        if not self.server.front.controller_ready():
            raise ConnectionAbortedError("no ready ingress controller pod: the load balancer has no InService instance")
        self.request.do_handshake()
        super().setup()

    def log_message(self, format: str, *args) -> None:
        log.debug("ingress front: " + format, *args)

    def do_GET(self) -> None:
        front: HttpsFront = self.server.front
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
        target = front.route(host, self.path)
        if target is None:
            return self._send(404, _nginx_page(404, "Not Found"), "text/html")
        self._send(*backend_response(front.controller.ctx.store, *target, self.path.split("?", 1)[0]))

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _nginx_page(status: int, reason: str) -> bytes:
    return (f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
            f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n").encode()


def backend_response(store, namespace: str, service_name: str, path: str) -> tuple[int, bytes, str]:
    """What the stand-in behind a Service answers: (status, body, content type); 503 when not ready."""
    unavailable = (503, _nginx_page(503, "Service Temporarily Unavailable"), "text/html")
    try:
        selector = store.get_object("v1", "Service", namespace, service_name).get("spec", {}).get("selector") or {}
    except ApiError:
        return unavailable
    if not _ready(store, namespace, selector):
        return unavailable
    release = selector.get("release")
    hub = _ready(store, namespace, {"app": "jupyterhub", "component": "hub", "release": release})
    proxy = _ready(store, namespace, {"app": "jupyterhub", "component": "proxy", "release": release})
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
    return 404, _nginx_page(404, "Not Found"), "text/html"


def _ready(store, namespace: str, selector: dict) -> bool:
    """Whether a Deployment or StatefulSet whose pods the selector picks has a ready replica."""
    if not selector or None in selector.values():
        return False
    for kind in ("Deployment", "StatefulSet"):
        for workload in store.list(store.resource_type("apps/v1", kind), namespace)[0]:
            labels = workload.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
            if all(labels.get(k) == v for k, v in selector.items()) \
                    and workload.get("status", {}).get("readyReplicas", 0) > 0:
                return True
    return False
