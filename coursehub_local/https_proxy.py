"""How a hub's public names reach the local stack: an HTTP CONNECT proxy plus a CA bundle.

Production code reaches ``https://binder.<domain>`` with stock urllib or
requests. On the local stack the standard ``HTTPS_PROXY`` points at this proxy
(``NO_PROXY`` keeps the AWS and Kubernetes endpoints on 127.0.0.1 direct):
``CONNECT host:443`` resolves ``host`` through the stack's Route53 to a load
balancer and tunnels to that load balancer's local HTTPS front; a name that
does not resolve gets 502, as NXDOMAIN fails a real connection. The standard
``SSL_CERT_FILE`` and ``REQUESTS_CA_BUNDLE`` name a bundle of certifi's CAs plus
the local ACME CA, so certificates are verified for real.
"""
from __future__ import annotations

import logging
import selectors
import socket
import socketserver
import threading
from pathlib import Path

import certifi

from coursehub_local.dns import LocalDns

log = logging.getLogger(__name__)
HTTPS_PORT = 443
IDLE_SECONDS = 60


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], dns: LocalDns):
        self.dns = dns
        super().__init__(address, _ConnectHandler)

    def handle_error(self, request, client_address) -> None:
        log.debug("proxy connection from %s ended with an error", client_address, exc_info=True)


class _ConnectHandler(socketserver.StreamRequestHandler):
    rbufsize = 0  # unbuffered: nothing the client sends after the headers may stay behind in a buffer

    def handle(self) -> None:
        request_line = self.rfile.readline(8192).decode("latin-1").strip()
        while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
            pass  # headers (Host, User-Agent, Proxy-Connection) carry nothing the proxy needs
        method, _, rest = request_line.partition(" ")
        authority = rest.split(" ", 1)[0]
        if method.upper() != "CONNECT":
            return self._reply(405, "Method Not Allowed", "only CONNECT is supported")
        host, _, port = authority.rpartition(":")
        if port != str(HTTPS_PORT):
            return self._reply(502, "Bad Gateway", f"no route to {authority}: only port 443 is served")
        dns: LocalDns = self.server.dns
        load_balancer = dns.resolve(host.strip("[]"))
        front = dns.front_for(load_balancer) if load_balancer else None
        if front is None:
            reason = "no such host" if load_balancer is None else "connection refused"
            return self._reply(502, "Bad Gateway", f"dial tcp: lookup {host}: {reason}")
        try:
            upstream = socket.create_connection(front, timeout=10)
        except OSError as error:
            return self._reply(502, "Bad Gateway", f"{authority}: {error}")
        with upstream:
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.wfile.flush()
            _pipe(self.connection, upstream)

    def _reply(self, status: int, reason: str, message: str) -> None:
        body = (message + "\n").encode()
        self.wfile.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n"
                         f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)


def _pipe(client: socket.socket, upstream: socket.socket) -> None:
    """Copy bytes both ways until either side closes (or stays idle too long)."""
    with selectors.DefaultSelector() as selector:
        selector.register(client, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, client)
        while True:
            ready = selector.select(IDLE_SECONDS)
            if not ready:
                return
            for key, _ in ready:
                data = key.fileobj.recv(65536)
                if not data:
                    return
                key.data.sendall(data)


class HttpsConnectProxy:
    """The proxy on 127.0.0.1 (ephemeral port unless given)."""

    def __init__(self, dns: LocalDns, host: str = "127.0.0.1", port: int = 0):
        self._server = _Server((host, port), dns)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="local-stack-https-proxy", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "HttpsConnectProxy":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def write_ca_bundle(folder: Path, extra_ca_pem: bytes) -> Path:
    """certifi's CAs plus ``extra_ca_pem``, written to ``folder/ca-bundle.pem``."""
    folder.mkdir(parents=True, exist_ok=True)
    bundle = folder / "ca-bundle.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes().rstrip(b"\n") + b"\n\n# CourseHub local ACME CA\n"
                       + extra_ca_pem)
    return bundle


def client_environment(proxy_url: str, ca_bundle: Path) -> dict[str, str]:
    """The standard variables through which stock HTTPS clients reach and trust the stack's hubs."""
    return {
        "HTTPS_PROXY": proxy_url, "https_proxy": proxy_url,  # some clients read only one spelling
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
        "SSL_CERT_FILE": str(ca_bundle), "REQUESTS_CA_BUNDLE": str(ca_bundle),
    }
