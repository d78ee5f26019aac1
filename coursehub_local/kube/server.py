"""``KubeApiServer``: the HTTPS lifecycle around the store (TLS with a fresh CA, bearer-token auth)."""
from __future__ import annotations

import base64

import logging
import os
import socket
import ssl
import tempfile
import threading
from http.server import ThreadingHTTPServer
from typing import Callable

from chalicelib.kubeconfig import for_cluster

from .certs import make_server_credentials
from .handler import KubeRequestHandler
from .store import ObjectStore

log = logging.getLogger(__name__)


class _HTTPSServer(ThreadingHTTPServer):
    """Threading HTTP server that wraps accepted sockets in TLS and can cut open connections."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], api: "KubeApiServer", context: ssl.SSLContext) -> None:
        self.api, self._context = api, context
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, KubeRequestHandler)

    def get_request(self):
        sock, address = self.socket.accept()
        return self._context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request, client_address) -> None:
        # Clients that drop the connection or fail the TLS handshake are routine, not server errors.
        log.debug("connection from %s ended with an error", client_address, exc_info=True)

    def track(self, sock: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(sock)

    def untrack(self, sock: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(sock)

    def cut_connections(self) -> None:
        """Shut down every open connection so idle keep-alive threads end."""
        with self._connections_lock:
            connections, self._connections = list(self._connections), set()
        for sock in connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class KubeApiServer:
    """A small stateful Kubernetes API server that real kubectl, helm and the Python client use."""

    def __init__(self, cluster_name: str = "local", verify_token: Callable[[str], bool] | None = None,
                 host: str = "127.0.0.1", port: int = 0, namespace_finalize_delay: float = 0.2,
                 kubernetes_version: str | None = None) -> None:
        self.cluster_name = cluster_name
        self.kubernetes_version = kubernetes_version  # "1.36": what /version reports; None: discovery.VERSION
        self.verify_token = verify_token
        self.host, self.port = host, port
        self.store = ObjectStore(namespace_finalize_delay=namespace_finalize_delay)
        self.stopping = False
        self._credentials = make_server_credentials(cluster_name, hosts=tuple(dict.fromkeys((host, "127.0.0.1", "localhost"))))
        self._httpd: _HTTPSServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def ca_pem(self) -> bytes:
        """PEM of the CA that signed the serving certificate."""
        return self._credentials.ca_pem

    @property
    def endpoint(self) -> str:
        """``https://host:port`` once started."""
        return f"https://{self.host}:{self.port}"

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        # ssl loads certificates from files only; keep them in a private temp dir for the load.
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = os.path.join(tmp, "tls.crt"), os.path.join(tmp, "tls.key")
            with open(cert, "wb") as out:
                out.write(self._credentials.cert_chain_pem)
            with open(os.open(key, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as out:
                out.write(self._credentials.key_pem)
            context.load_cert_chain(cert, key)
        # Only HTTP/1.1: Go clients then use chunked watch responses as we write them.
        context.set_alpn_protocols(["http/1.1"])
        return context

    def start(self) -> "KubeApiServer":
        """Bind, start serving on a background thread, and return once requests are accepted."""
        self._httpd = _HTTPSServer((self.host, self.port), self, self._ssl_context())
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"kube-api-{self.cluster_name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end open watches and connections."""
        self.stopping = True
        self.store.close()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.cut_connections()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self._httpd = None

    def kubeconfig(self, token: str) -> dict:
        """A kubeconfig for this server and bearer token, built as production builds one from describe_cluster."""
        described = {"name": self.cluster_name, "endpoint": self.endpoint,
                     "certificateAuthority": {"data": base64.b64encode(self.ca_pem).decode()}}
        return for_cluster(described, token)

    def __enter__(self) -> "KubeApiServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
