"""HTTPS on 127.0.0.1 standing in for an ingress controller Service's load balancer (port 443).

SNI picks the Ingress's TLS Secret (a self-signed default certificate otherwise, like nginx's), Host
and path pick the backend Service as nginx routes, and stand-in backends answer for BinderHub and
JupyterHub only when the workloads behind them are ready (``stand_in_backends``). Connections are
refused while no controller pod is ready, as a load balancer without an InService instance would.
"""
from __future__ import annotations

import base64
import logging
import os
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

from coursehub_local.acme_ca import self_signed
from coursehub_local.cluster.services import service_selector
from coursehub_local.cluster.stand_in_backends import backend_ready, backend_response, nginx_page
from coursehub_local.kube.errors import ApiError

if TYPE_CHECKING:
    from coursehub_local.cluster.ingress import IngressController

log = logging.getLogger(__name__)


class HttpsFront:
    """HTTPS on 127.0.0.1 for one controller Service: what its load balancer's port 443 would serve."""

    def __init__(self, controller: "IngressController", service_key: tuple[str, str], load_balancer: str):
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
        store = self.controller.ctx.store
        selector = service_selector(store, *self.service_key)
        return selector is not None and backend_ready(store, self.service_key[0], selector)

    def ingresses(self) -> list[dict]:
        store = self.controller.ctx.store
        try:
            service = store.get_object("v1", "Service", *self.service_key)
        except ApiError:
            return []
        return self.controller.ingresses_of(service)

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


def _host_matches(host: str, patterns: list[str]) -> bool:
    return any(host == p or (p.startswith("*.") and host.split(".", 1)[-1] == p[2:]) for p in patterns)


def _path_matches(path: str, prefix: str, path_type: str) -> bool:
    path = path.split("?", 1)[0]
    if path_type == "Exact":
        return path == prefix
    prefix = prefix.rstrip("/")
    return path == prefix or path.startswith(prefix + "/") or not prefix


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, front: HttpsFront):
        self.front = front
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self):
        sock, address = self.socket.accept()  # the handshake runs in the request's thread (see _Handler.setup)
        return self.front.default_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request, client_address) -> None:
        log.debug("HTTPS connection from %s ended with an error", client_address, exc_info=True)


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
            return self._send(404, nginx_page(404, "Not Found"), "text/html")
        self._send(*backend_response(front.controller.ctx.store, *target, self.path.split("?", 1)[0]))

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
