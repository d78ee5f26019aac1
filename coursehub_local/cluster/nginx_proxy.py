"""One request through an F5 NGINX Ingress server: redirect, body limit, upgrade, buffering and timeouts.

What ``internal/configs/version1/nginx.ingress.tmpl`` (nginx/kubernetes-ingress v5.5.4) configures, as
nginx carries it out (nginx.org/en/docs/http/ngx_http_proxy_module.html):

- a plain-HTTP request to a host with TLS is answered ``301`` to ``https://$host:443$request_uri``
  unless ``nginx.org/ssl-redirect: "false"``;
- a body over ``client_max_body_size`` gets ``413 Request Entity Too Large`` (ngx_http_core_module),
  and nginx reads and drops the rest of the body before closing (``lingering_close``);
- ``Upgrade``/``Connection`` are hop-by-hop: nginx passes them only where the location sets them, that
  is for Services in ``nginx.org/websocket-services``; elsewhere upstream sees a plain request; after an
  upstream's 101 nginx relays bytes both ways (``_tunnel``);
- ``proxy_buffering on``: the body is held until a buffer (``proxy_buffer_size``, one 4 KiB page)
  fills or the upstream finishes; ``off``: each chunk goes to the client as it comes;
- ``proxy_read_timeout`` bounds the wait for each read from upstream: no response header in time is
  ``504 Gateway Time-out``; after the header, nginx closes the client connection and drops what it
  still holds (ngx_http_upstream.c ``ngx_http_upstream_finalize_request``).

Upstream delays are in the stack's simulated seconds, so timeouts cost little real time.
"""
from __future__ import annotations

import logging
import select
import socket
import ssl
import time
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING

from coursehub_local.cluster.nginx_config import Location
from coursehub_local.cluster.stand_in_backends import Request, Response, nginx_page, respond

if TYPE_CHECKING:
    from coursehub_local.cluster.https_front import IngressFront

log = logging.getLogger(__name__)
PROXY_BUFFER_SIZE = 4096  # proxy_buffer_size default: one memory page
HOP_BY_HOP = ("connection", "upgrade", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding")
REASONS = {301: "Moved Permanently", 404: "Not Found", 413: "Request Entity Too Large", 504: "Gateway Time-out"}


class NginxHandler(BaseHTTPRequestHandler):
    """Serves one connection as the controller's nginx does, on the port of the server it belongs to."""

    server_version = "nginx"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    scheme = "http"

    def log_message(self, format: str, *args) -> None:
        log.debug("ingress front: " + format, *args)

    def _proxy(self) -> None:
        front: IngressFront = self.server.front
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
        server = front.configuration().server_for(host)
        if server is None:  # the default server answers hosts no Ingress owns
            return self._page(404)
        if self.scheme == "http" and server.tls_secret is not None and server.ssl_redirect:
            return self._page(301, Location=f"https://{host}:443{self.path}")
        location = server.location_for(self.path)
        if location is None:
            return self._page(404)
        length = int(self.headers.get("Content-Length") or 0)
        if location.client_max_body_size and length > location.client_max_body_size:
            self.close_connection = True
            self._page(413)
            return self._linger(length)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        if location.websocket and self.headers.get("Upgrade"):
            headers.update(upgrade=self.headers["Upgrade"], connection="upgrade")  # $connection_upgrade
        else:
            headers["connection"] = "close"  # nginx's default proxy_set_header Connection close
        request = Request(self.command, self.path, headers, body, cluster=front.controller.ctx)
        self._relay(front, location, respond(front.store, location.namespace, location.service, request,
                                            front.clock))

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _proxy

    def _relay(self, front: "IngressFront", location: Location, response: Response) -> None:
        wait = front.clock.real_seconds
        if response.header_delay > location.read_timeout:
            time.sleep(wait(location.read_timeout))
            return self._page(504)
        time.sleep(wait(response.header_delay))
        self.send_response(response.status)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.status == 101:
            self.end_headers()
            return self._tunnel(response.upstream, front, location.read_timeout)
        if not response.streaming:
            data = b"".join(chunk for _, chunk in response.chunks)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            return None
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        self.wfile.flush()
        held = b""
        for delay, chunk in response.chunks:
            if delay > location.read_timeout:
                time.sleep(wait(location.read_timeout))
                return None  # upstream timed out: the connection closes, held data is dropped
            time.sleep(wait(delay))
            held += chunk
            if not location.proxy_buffering or len(held) >= PROXY_BUFFER_SIZE:
                self.wfile.write(held)
                self.wfile.flush()
                held = b""
        self.wfile.write(held)
        return None

    def _linger(self, length: int) -> None:
        """lingering_close: read and drop what the client still sends (lingering_timeout 5s) before closing."""
        self.wfile.flush()
        self.connection.settimeout(5)
        try:
            while length > 0 and (data := self.rfile.read1(min(length, 65536))):
                length -= len(data)
        except (socket.timeout, OSError):
            pass

    def _tunnel(self, upstream: socket.socket | None, front: "IngressFront", read_timeout: float) -> None:
        """After 101 nginx relays bytes both ways until a side closes or nothing passes for ``proxy_read_timeout``.

        ngx_http_upstream.c ``ngx_http_upstream_process_upgraded``: each read or write event on either
        side re-arms the upstream read timer with ``proxy_read_timeout``; when it fires the request is
        finalized with ``NGX_HTTP_REQUEST_TIME_OUT`` and both connections close. A side that closes
        (``recv`` of 0) ends the tunnel too. The timer runs on the stack's simulated clock.
        """
        self.wfile.flush()
        self.close_connection = True
        if upstream is None:
            return None
        client, clock = self.connection, front.clock
        last = clock.time()
        try:
            pending = self._buffered_request_bytes()  # sent right after the request, already in rfile
            while clock.time() - last < read_timeout:
                if pending:
                    upstream.sendall(pending)
                    last, pending = clock.time(), b""
                readable = select.select([client, upstream], [], [], 0.05)[0]
                if client in readable or (hasattr(client, "pending") and client.pending()):
                    try:
                        pending = client.recv(65536)
                    except ssl.SSLWantReadError:
                        continue
                    if not pending:
                        break
                if upstream in readable:
                    data = upstream.recv(65536)
                    if not data:
                        break
                    client.sendall(data)
                    last = clock.time()
        except OSError:
            pass
        finally:
            for sock in (upstream, client):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            upstream.close()
        return None

    def _buffered_request_bytes(self) -> bytes:
        """What rfile read ahead of the request's end; it is not used again once the connection is upgraded."""
        self.connection.settimeout(0.001)
        try:
            held = self.rfile.peek()
        except (socket.timeout, ssl.SSLError, OSError):
            held = b""
        self.connection.settimeout(30)
        return self.rfile.read(len(held)) if held else b""

    def _page(self, status: int, **headers: str) -> None:
        body = nginx_page(status, REASONS[status])
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
