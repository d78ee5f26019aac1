"""Publish a hub's host names: CNAME records to the ingress load balancer in the domain's hosted zone."""
from __future__ import annotations

import socket
from typing import Any, Callable

from chalicelib.errors import CourseHubError

TTL = 60


class DnsNotResolving(CourseHubError):
    """A host name does not resolve to the load balancer yet (retry later)."""


def find_zone(route53: Any, domain: str) -> str | None:
    """Id of the public hosted zone with the longest name that the domain falls under, or None."""
    best: tuple[int, str] | None = None
    for page in route53.get_paginator("list_hosted_zones").paginate():
        for zone in page["HostedZones"]:
            name = zone["Name"].rstrip(".").lower()
            if zone.get("Config", {}).get("PrivateZone"):
                continue
            if domain == name or domain.endswith("." + name):
                if best is None or len(name) > best[0]:
                    best = (len(name), zone["Id"].rsplit("/", 1)[-1])
    return best[1] if best else None


def records(hosts: list[str], target: str) -> list[dict]:
    """The exact records a hub needs (also what is posted when there is no hosted zone)."""
    return [{"Name": host, "Type": "CNAME", "TTL": TTL, "ResourceRecords": [{"Value": target}]} for host in hosts]


def upsert(route53: Any, zone_id: str, hosts: list[str], target: str) -> str:
    """UPSERT the CNAME records (idempotent); returns the change id."""
    change = route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={
        "Comment": "CourseHub hub host names",
        "Changes": [{"Action": "UPSERT", "ResourceRecordSet": r} for r in records(hosts, target)],
    })
    return change["ChangeInfo"]["Id"]


def delete(route53: Any, zone_id: str, hosts: list[str]) -> list[str]:
    """Delete the hub's records that exist (whatever they point to); returns the names deleted."""
    existing = {}
    for host in hosts:
        found = route53.list_resource_record_sets(HostedZoneId=zone_id, StartRecordName=host,
                                                  StartRecordType="CNAME", MaxItems="1")["ResourceRecordSets"]
        if found and found[0]["Name"].rstrip(".").lower() == host and found[0]["Type"] == "CNAME":
            existing[host] = found[0]
    if existing:
        route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={
            "Changes": [{"Action": "DELETE", "ResourceRecordSet": r} for r in existing.values()]})
    return sorted(existing)


def check_resolves(hosts: list[str], target: str,
                   resolve: Callable[[str], list] = socket.getaddrinfo) -> dict:
    """Raise DnsNotResolving until every host resolves to the same addresses as ``target``."""
    try:
        wanted = {info[4][0] for info in resolve(target, 443)}
    except OSError as error:
        raise DnsNotResolving(f"load balancer {target} does not resolve yet: {error}") from None
    for host in hosts:
        try:
            got = {info[4][0] for info in resolve(host, 443)}
        except OSError as error:
            raise DnsNotResolving(f"{host} does not resolve: {error}") from None
        if not got & wanted:
            raise DnsNotResolving(f"{host} resolves to {sorted(got)}, not to {target}")
    return {"resolved": hosts}
