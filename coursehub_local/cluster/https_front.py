"""HTTP and HTTPS on 127.0.0.1 standing in for an ingress controller Service's load balancer (ports 80 and 443).

The F5 controller's nginx servers (``nginx_config``) decide everything: which Ingress owns a host, its
TLS Secret (chosen by SNI; a host whose Secret is missing or invalid has its handshake rejected, as
``ssl_reject_handshake on`` does; hosts no Ingress owns get the default server's self-signed
certificate), and how each request is proxied (``nginx_proxy``). Stand-in backends answer for the
Services only when the workloads behind them are ready (``stand_in_backends``). Connections are
refused while no controller pod is ready, as a load balancer without an InService instance would.
"""
from __future__ import annotations

import base64
import logging
import os
import ssl
import tempfile
import threading
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING

from coursehub_local.acme_ca import self_signed
from coursehub_local.cluster import nginx_config
from coursehub_local.cluster.nginx_proxy import NginxHandler
from coursehub_local.cluster.services import service_selector
from coursehub_local.cluster.stand_in_backends import backend_ready
from coursehub_local.kube.errors import ApiError

if TYPE_CHECKING:
    from coursehub_local.cluster.ingress import IngressController

log = logging.getLogger(__name__)


class IngressFront:
    """Ports 80 and 443 of one controller Service's load balancer, served on 127.0.0.1."""

    def __init__(self, controller: "IngressController", service_key: tuple[str, str], load_balancer: str):
        self.controller, self.service_key, self.load_balancer = controller, service_key, load_balancer
        self.store, self.clock = controller.ctx.store, controller.ctx.clock
        self._contexts: dict[tuple[str, str], tuple[str, ssl.SSLContext]] = {}
        self.default_context = self._context(*self_signed("NGINXIngressController"))
        self.default_context.sni_callback = self._choose_certificate
        self.servers = {443: _Server(self, _HttpsHandler), 80: _Server(self, _HttpHandler)}
        for port, server in self.servers.items():
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                             name=f"ingress-front-{service_key[1]}-{port}", daemon=True).start()
            controller.dns.register_front(load_balancer, server.server_address[:2], port)
        self.address = self.servers[443].server_address[:2]

    def close(self) -> None:
        for port, server in self.servers.items():
            self.controller.dns.unregister_front(self.load_balancer, server.server_address[:2], port)
            server.shutdown()
            server.server_close()

    def controller_ready(self) -> bool:
        """Whether a controller pod is ready behind the Service (else the load balancer has nowhere to send)."""
        selector = service_selector(self.store, *self.service_key)
        return selector is not None and backend_ready(self.store, self.service_key[0], selector)

    def configuration(self) -> nginx_config.Configuration:
        """The servers the controller has made of its class's Ingresses, as of now."""
        try:
            service = self.store.get_object("v1", "Service", *self.service_key)
        except ApiError:
            return nginx_config.Configuration()
        return nginx_config.build(self.controller.ingresses_of(service))

    def _choose_certificate(self, sock: ssl.SSLObject, server_name: str | None, _context):
        server = self.configuration().server_for(server_name) if server_name else None
        if server is None or server.tls_secret is None:
            return None  # the default server's certificate
        context = self._secret_context(server.ingress["metadata"]["namespace"], server.tls_secret)
        if context is None:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME  # ssl_reject_handshake on
        sock.context = context
        return None

    def _secret_context(self, namespace: str, name: str) -> ssl.SSLContext | None:
        try:
            secret = self.store.get_object("v1", "Secret", namespace, name)
        except ApiError:
            return None
        data = secret.get("data", {})
        if secret.get("type") != "kubernetes.io/tls" or not data.get("tls.crt") or not data.get("tls.key"):
            return None
        version = secret["metadata"]["resourceVersion"]
        cached = self._contexts.get((namespace, name))
        if cached is None or cached[0] != version:
            try:
                context = self._context(base64.b64decode(data["tls.crt"]), base64.b64decode(data["tls.key"]))
            except (ssl.SSLError, ValueError):
                return None  # F5 validates the pair and rejects the Secret
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


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, front: IngressFront, handler: type[NginxHandler]):
        self.front = front
        super().__init__(("127.0.0.1", 0), handler)

    def get_request(self):
        sock, address = self.socket.accept()
        if self.RequestHandlerClass is _HttpsHandler:  # the handshake runs in the request's thread (see setup)
            sock = self.front.default_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request, client_address) -> None:
        log.debug("ingress front connection from %s ended with an error", client_address, exc_info=True)


class _HttpHandler(NginxHandler):
    def setup(self) -> None:
        self.request.settimeout(30)
        if not self.server.front.controller_ready():
            raise ConnectionAbortedError("no ready ingress controller pod: the load balancer has no InService instance")
        super().setup()


class _HttpsHandler(_HttpHandler):
    scheme = "https"

    def setup(self) -> None:
        self.request.settimeout(30)
        if not self.server.front.controller_ready():
            raise ConnectionAbortedError("no ready ingress controller pod: the load balancer has no InService instance")
        self.request.do_handshake()
        super(_HttpHandler, self).setup()
