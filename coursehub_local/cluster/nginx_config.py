"""The nginx servers F5 NGINX Ingress Controller makes of a class's Ingresses (chart nginx-ingress 2.6.4, controller 5.5.4).

Read in nginx/kubernetes-ingress at tag v5.5.4:

- **One Ingress owns a host.** ``internal/k8s/configuration.go`` ``buildHostsAndResources`` gives each
  host to the Ingress that wins ``chooseObjectMetaWinner``: the older ``creationTimestamp``, and on a
  tie the greater ``uid``. An Ingress that owns none of its hosts is a problem with reason
  ``Rejected`` and message "All hosts are taken by other resources"
  (``addProblemsForResourcesWithoutActiveHost``), reported as a Warning Event and with its status
  cleared (``internal/k8s/controller.go`` ``processProblems``). Only the owner's rules reach nginx;
  mergeable (master/minion) Ingresses are not modelled.
- **Defaults** (``internal/configs/config_params.go`` ``NewDefaultConfigParams``): ``SSLRedirect``
  true with code 301, ``ClientMaxBodySize`` "1m", ``ProxyBuffering`` true, ``ProxyReadTimeout`` and
  ``ProxySendTimeout`` "60s". The annotations ``nginx.org/ssl-redirect``,
  ``nginx.org/client-max-body-size``, ``nginx.org/proxy-buffering``, ``nginx.org/proxy-read-timeout``
  and ``nginx.org/proxy-send-timeout`` override them per Ingress (``internal/configs/annotations.go``).
- **WebSocket per Service**: a location gets ``proxy_set_header Upgrade``/``Connection`` only when its
  backend Service is listed in ``nginx.org/websocket-services`` (``internal/configs/ingress.go``
  ``createLocation(..., wsServices[path.Backend.Service.Name], ...)``, ``version1/nginx.ingress.tmpl``).
- **TLS per host**: a host listed in the owner's ``spec.tls`` gets ``listen 443 ssl``; when the Secret
  is missing or not ``kubernetes.io/tls`` the server gets ``ssl_reject_handshake on``
  (``ingress.go`` ``addSSLConfig``), and the HTTP->HTTPS redirect applies all the same
  (``nginx.ingress.tmpl``: ``return 301 https://$host:443$request_uri`` when ``$server.SSLRedirect``).
- **Paths**: pathType ``Exact`` becomes ``location = /path``, others ``location /path``
  (``ingress.go`` ``generateIngressPath``); nginx picks an exact match first, else the longest prefix.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

WEBSOCKET_SERVICES = "nginx.org/websocket-services"
CLIENT_MAX_BODY_SIZE = "nginx.org/client-max-body-size"
PROXY_BUFFERING = "nginx.org/proxy-buffering"
PROXY_READ_TIMEOUT = "nginx.org/proxy-read-timeout"
PROXY_SEND_TIMEOUT = "nginx.org/proxy-send-timeout"
SSL_REDIRECT = "nginx.org/ssl-redirect"
DEFAULTS = {CLIENT_MAX_BODY_SIZE: "1m", PROXY_BUFFERING: "true", PROXY_READ_TIMEOUT: "60s",
            PROXY_SEND_TIMEOUT: "60s", SSL_REDIRECT: "true"}  # config_params.go NewDefaultConfigParams
REJECTED_MESSAGE = "All hosts are taken by other resources"


@dataclass(frozen=True)
class Location:
    """One nginx ``location`` of a server: the backend Service and the proxy settings from annotations."""

    path: str
    exact: bool
    namespace: str
    service: str
    websocket: bool
    client_max_body_size: int  # bytes; 0 means unlimited
    proxy_buffering: bool
    read_timeout: float  # seconds
    send_timeout: float


@dataclass(frozen=True)
class Server:
    """One nginx ``server`` (a host) as the Ingress that owns the host configures it."""

    host: str
    ingress: dict
    tls_secret: str | None  # the Secret of the host's tls entry, None when the host has no TLS
    ssl_redirect: bool
    locations: tuple[Location, ...]

    def location_for(self, path: str) -> Location | None:
        """As nginx: an exact location that matches, else the longest matching prefix location."""
        path = path.split("?", 1)[0]
        exact = next((loc for loc in self.locations if loc.exact and loc.path == path), None)
        if exact:
            return exact
        prefixes = [loc for loc in self.locations if not loc.exact and path.startswith(loc.path)]
        return max(prefixes, key=lambda loc: len(loc.path), default=None)


@dataclass
class Configuration:
    """What the controller makes of a class's Ingresses: servers by host, and the Ingresses it rejects."""

    servers: dict[str, Server] = field(default_factory=dict)
    rejected: list[dict] = field(default_factory=list)

    def server_for(self, host: str) -> Server | None:
        return self.servers.get(host.lower())


def build(ingresses: list[dict]) -> Configuration:
    """Hosts to their owning Ingress (oldest wins), then one server per owned host."""
    owners: dict[str, dict] = {}
    for ingress in sorted(ingresses, key=_key):  # getSortedIngressKeys
        for rule in ingress.get("spec", {}).get("rules", []):
            host = rule.get("host", "").lower()
            holder = owners.get(host)
            if holder is None or not wins(holder, ingress):
                owners[host] = ingress
    config = Configuration()
    for ingress in ingresses:
        hosts = {rule.get("host", "").lower() for rule in ingress.get("spec", {}).get("rules", [])}
        owned = {h for h in hosts if owners.get(h) is ingress}
        if hosts and not owned:
            config.rejected.append(ingress)
        for host in owned:
            config.servers[host] = _server(ingress, host)
    return config


def wins(a: dict, b: dict) -> bool:
    """chooseObjectMetaWinner: the older creationTimestamp wins; on a tie, the greater uid."""
    ta, tb = a["metadata"].get("creationTimestamp", ""), b["metadata"].get("creationTimestamp", "")
    if ta == tb:
        return a["metadata"].get("uid", "") > b["metadata"].get("uid", "")
    return ta < tb  # RFC 3339 in UTC with one format: string order is time order


def _key(ingress: dict) -> str:
    return f'{ingress["metadata"].get("namespace", "")}/{ingress["metadata"]["name"]}'


def _server(ingress: dict, host: str) -> Server:
    meta, spec = ingress["metadata"], ingress.get("spec", {})
    annotations = {**DEFAULTS, **meta.get("annotations", {})}
    websocket = {s.strip() for s in meta.get("annotations", {}).get(WEBSOCKET_SERVICES, "").split(",") if s.strip()}
    tls = next((t for t in spec.get("tls", []) if host in [h.lower() for h in t.get("hosts", [])]), None)
    locations = []
    for rule in spec.get("rules", []):
        if rule.get("host", "").lower() != host:
            continue
        for item in (rule.get("http") or {}).get("paths", []):
            service = item["backend"]["service"]["name"]
            locations.append(Location(
                path=item.get("path") or "/", exact=item.get("pathType") == "Exact",
                namespace=meta["namespace"], service=service, websocket=service in websocket,
                client_max_body_size=parse_size(annotations[CLIENT_MAX_BODY_SIZE]),
                proxy_buffering=_bool(annotations[PROXY_BUFFERING], True),
                read_timeout=parse_time(annotations[PROXY_READ_TIMEOUT], 60),
                send_timeout=parse_time(annotations[PROXY_SEND_TIMEOUT], 60)))
    return Server(host=host, ingress=ingress, tls_secret=(tls.get("secretName") or "") if tls else None,
                  ssl_redirect=_bool(annotations[SSL_REDIRECT], True), locations=tuple(locations))


def parse_size(value: str) -> int:
    """An nginx size ("1m", "64M", "512k", "0"): bytes, 0 for unlimited; 1m if invalid (the default)."""
    match = re.fullmatch(r"\s*(\d+)([kKmMgG]?)\s*", value or "")
    if not match:
        return 1024 * 1024
    return int(match.group(1)) * {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}[match.group(2).lower()]


def parse_time(value: str, default: float) -> float:
    """An nginx time ("60s", "1m", "3600", "1h30m"): seconds; ``default`` if invalid (F5 logs and ignores it)."""
    parts = re.findall(r"(\d+)(ms|[smhd]?)", (value or "").strip())
    if not parts or "".join(n + u for n, u in parts) != (value or "").strip():
        return default
    scale = {"ms": 0.001, "": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
    return sum(int(n) * scale[u] for n, u in parts)


def _bool(value: str, default: bool) -> bool:
    """GetMapKeyAsBool: Go's strconv.ParseBool; an invalid value leaves the default."""
    text = str(value).strip()
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return default
