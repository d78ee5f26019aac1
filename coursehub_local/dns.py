"""Name resolution through the local stack's Route53, down to a load balancer and its local HTTPS front.

A hub's public names (``binder.<domain>``, ``hub.binder.<domain>``) exist only
as records in the stack's hosted zones. ``LocalDns.resolve`` follows them as a
resolver would (longest matching public zone, CNAME chains, A/AAAA alias
records) until it leaves Route53 at a load balancer's DNS name. The ingress
controller registers the fronts (HTTP on port 80, HTTPS on 443) that stand in for each load balancer, so
"the name resolves" means the same thing to the HTTPS proxy (where a request
goes) and to cert-manager's http01 self check (whether a certificate can be
issued).
"""
from __future__ import annotations

import threading
from typing import Any, Callable

MAX_CHAIN = 8  # CNAME/alias hops before giving up, as a resolver bounds a loop


def _name(host: str) -> str:
    """Lower case, no trailing dot; Route53 escapes ``*`` as ``\\052``."""
    return host.strip().rstrip(".").lower().replace("\\052", "*")


class Snapshot:
    """Route53 and the load balancers as they are now: resolve many names with a few API calls."""

    def __init__(self, client: Callable[[str], Any]):
        self._client = client
        self._zones: list[tuple[str, str]] | None = None  # (zone name, id), longest first
        self._records: dict[str, list[dict]] = {}
        self._balancers: set[str] | None = None

    def resolve(self, host: str) -> str | None:
        """The load balancer DNS name ``host`` leads to, or None (no such host, or not a load balancer)."""
        name = _name(host)
        for _ in range(MAX_CHAIN):
            zone = self._zone_for(name)
            if zone is None:
                return name if name in self._load_balancers() else None
            target = self._target(zone, name)
            if target is None:
                return None
            name = target
        return None

    def _zone_for(self, name: str) -> str | None:
        if self._zones is None:
            route53 = self._client("route53")
            zones = [z for page in route53.get_paginator("list_hosted_zones").paginate()
                     for z in page["HostedZones"] if not z.get("Config", {}).get("PrivateZone")]
            self._zones = sorted(((_name(z["Name"]), z["Id"].rsplit("/", 1)[-1]) for z in zones),
                                 key=lambda zone: -len(zone[0]))
        return next((zone_id for zone_name, zone_id in self._zones
                     if name == zone_name or name.endswith("." + zone_name)), None)

    def _target(self, zone_id: str, name: str) -> str | None:
        """Where the record for ``name`` points (CNAME value or alias target), trying wildcards too."""
        records = self._zone_records(zone_id)
        candidates = [name] + ["*." + name.split(".", i)[-1] for i in range(1, name.count(".") + 1)]
        for candidate in candidates:
            for record in records:
                if _name(record["Name"]) != candidate:
                    continue
                if record["Type"] == "CNAME" and record.get("ResourceRecords"):
                    return _name(record["ResourceRecords"][0]["Value"])
                if record["Type"] in ("A", "AAAA") and record.get("AliasTarget"):
                    target = _name(record["AliasTarget"]["DNSName"])
                    return target.removeprefix("dualstack.")
            if any(_name(r["Name"]) == candidate for r in records):
                return None  # the name exists with other types only (plain A records, TXT, ...)
        return None

    def _zone_records(self, zone_id: str) -> list[dict]:
        if zone_id not in self._records:
            route53 = self._client("route53")
            self._records[zone_id] = [
                r for page in route53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id)
                for r in page["ResourceRecordSets"]]
        return self._records[zone_id]

    def _load_balancers(self) -> set[str]:
        if self._balancers is None:
            classic = [lb["DNSName"] for page in self._client("elb").get_paginator(
                "describe_load_balancers").paginate() for lb in page["LoadBalancerDescriptions"]]
            v2 = [lb["DNSName"] for page in self._client("elbv2").get_paginator(
                "describe_load_balancers").paginate() for lb in page["LoadBalancers"]]
            self._balancers = {_name(n) for n in classic + v2}
        return self._balancers


class LocalDns:
    """The stack's resolver and its table of (load balancer DNS name, port) -> local front (host, port)."""

    def __init__(self, client: Callable[[str], Any]):
        self._make_client = client
        self._clients: dict[str, Any] = {}
        self._fronts: dict[tuple[str, int], tuple[str, int]] = {}
        self._lock = threading.Lock()

    def snapshot(self) -> Snapshot:
        """A consistent view for resolving several names at once."""
        return Snapshot(self._client)

    def resolve(self, host: str) -> str | None:
        """The load balancer DNS name ``host`` resolves to through Route53, or None."""
        return self.snapshot().resolve(host)

    def register_front(self, load_balancer: str, address: tuple[str, int], port: int = 443) -> None:
        """Say that ``address`` serves the load balancer named ``load_balancer`` on ``port`` (443 HTTPS, 80 HTTP)."""
        with self._lock:
            self._fronts[(_name(load_balancer), port)] = address

    def unregister_front(self, load_balancer: str, address: tuple[str, int] | None = None, port: int = 443) -> None:
        """Forget a front (only if it is still ``address``, when given)."""
        with self._lock:
            if address is None or self._fronts.get((_name(load_balancer), port)) == address:
                self._fronts.pop((_name(load_balancer), port), None)

    def front_for(self, load_balancer: str, port: int = 443) -> tuple[str, int] | None:
        """The local front of a load balancer's ``port``, if an ingress controller serves one."""
        with self._lock:
            return self._fronts.get((_name(load_balancer), port))

    def _client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:  # boto3 clients are slow to make and thread-safe to share
                self._clients[service] = self._make_client(service)
            return self._clients[service]
