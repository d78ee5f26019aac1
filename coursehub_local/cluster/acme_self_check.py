"""cert-manager's http01 self check, made for real against the stack's load balancer fronts.

As ``testReachability`` in cert-manager v1.21.1 ``pkg/issuer/acme/http/http.go``: GET
``http://<name>/.well-known/acme-challenge/<token>`` with Go's ``http.Client`` (redirects followed, at
most 10; TLS certificates not verified, ``InsecureSkipVerify: true``, since a redirect to HTTPS may meet
a temporary or self-signed certificate; 10 s timeout); anything but 200 is ``wrong status code '<n>',
expected '200'``; a body other than the key is ``did not get expected response ...``; a failed request
is ``failed to perform self check GET request '<url>': Get "<url of the failing hop>": <error>``.
Names resolve through the stack's Route53 to a load balancer, whose port 80/443 front then answers
(``dns``), as in-cluster DNS and the load balancer would.
"""
from __future__ import annotations

import http.client
import socket
import ssl
from urllib.parse import urljoin, urlsplit

from coursehub_local.dns import LocalDns, Snapshot

MAX_REDIRECTS = 10  # net/http defaultCheckRedirect
MAX_BODY = 1024 * 1024  # maxAcmeChallengeBodySize
TIMEOUT = 10
CLUSTER_DNS = "10.100.0.10:53"  # kube-dns ClusterIP on EKS


def self_check(dns: LocalDns, snapshot: Snapshot, name: str, token: str, key: str) -> str | None:
    """What the self check reports for one Challenge, or None when it passes."""
    first = url = f"http://{name}/.well-known/acme-challenge/{token}"
    for _ in range(MAX_REDIRECTS + 1):
        try:
            status, location, body = _get(dns, snapshot, url)
        except _GoError as error:
            return f"failed to perform self check GET request '{first}': Get \"{url}\": {error}"
        if status in (301, 302, 303, 307, 308) and location:
            url = urljoin(url, location)
            continue
        if status != 200:
            return f"wrong status code '{status}', expected '200'"
        if body.decode("utf-8", "replace") != key:
            shown = body.decode("utf-8", "replace")
            shown = shown[:24].strip() + "... (truncated)" if len(shown) > 24 else shown
            return f'did not get expected response when querying endpoint, expected "{key}" but got: {shown}'
        return None
    return f"failed to perform self check GET request '{first}': Get \"{url}\": stopped after 10 redirects"


class _GoError(Exception):
    """An error worded as Go's net/http and crypto/tls word it."""


def _get(dns: LocalDns, snapshot: Snapshot, url: str) -> tuple[int, str | None, bytes]:
    parts = urlsplit(url)
    host, tls = parts.hostname or "", parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    balancer = snapshot.resolve(host)
    if balancer is None:
        raise _GoError(f"dial tcp: lookup {host} on {CLUSTER_DNS}: no such host")
    front = dns.front_for(balancer, port)
    if front is None:
        raise _GoError(f"dial tcp {balancer}:{port}: connect: connection refused")
    connection = _Pinned(front, host, port, tls)
    try:
        connection.request("GET", parts.path or "/", headers={"User-Agent": "cert-manager-challenges/v1.21.1"})
        response = connection.getresponse()
        return response.status, response.getheader("Location"), response.read(MAX_BODY)
    except ssl.SSLError as error:
        words = (error.reason or str(error)).lower().removeprefix("tlsv1_alert_").removeprefix("tlsv1_")
        raise _GoError(f"remote error: tls: {words.replace('_', ' ')}") from None
    except (http.client.RemoteDisconnected, ConnectionResetError, ConnectionAbortedError):
        raise _GoError("EOF") from None
    except (socket.timeout, TimeoutError):
        raise _GoError("context deadline exceeded (Client.Timeout exceeded while awaiting headers)") from None
    finally:
        connection.close()


class _Pinned(http.client.HTTPConnection):
    """A connection to a front's address that speaks to ``host`` (Host header, and SNI over TLS)."""

    def __init__(self, address: tuple[str, int], host: str, port: int, tls: bool):
        super().__init__(host, port, timeout=TIMEOUT)
        self._address, self._tls = address, tls

    def connect(self) -> None:
        self.sock = socket.create_connection(self._address, self.timeout)
        if self._tls:
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # InsecureSkipVerify
            self.sock = context.wrap_socket(self.sock, server_hostname=self.host)
