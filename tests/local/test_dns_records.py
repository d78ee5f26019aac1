"""Hub host names in Route53 on the local stack; resolution checks with an injected resolver."""
import socket

import pytest

from chalicelib import dns_records

TARGET = "a1234.us-east-1.elb.amazonaws.com"


def test_the_zone_is_found_by_the_longest_matching_name(stack):
    route53 = stack.client("route53")
    assert dns_records.find_zone(route53, "courses.example.edu") == stack.seeded.hosted_zone_id
    assert dns_records.find_zone(route53, "physics.courses.example.edu") == stack.seeded.hosted_zone_id
    assert dns_records.find_zone(route53, "elsewhere.org") is None


def test_records_are_upserted_idempotently_and_deleted(stack):
    route53, zone = stack.client("route53"), stack.seeded.hosted_zone_id
    hosts = ["binder.dnstest.courses.example.edu", "hub.binder.dnstest.courses.example.edu"]
    dns_records.upsert(route53, zone, hosts, TARGET)
    dns_records.upsert(route53, zone, hosts, TARGET)
    sets = route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    ours = [r for r in sets if "dnstest" in r["Name"]]
    assert len(ours) == 2 and all(r["ResourceRecords"][0]["Value"] == TARGET for r in ours)
    assert dns_records.delete(route53, zone, hosts) == sorted(hosts)
    assert dns_records.delete(route53, zone, hosts) == []  # already gone: done


def fake_resolver(table):
    def resolve(host, port):
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in table[host]]
    return resolve


def test_resolution_is_checked_against_the_load_balancer():
    resolve = fake_resolver({TARGET: ["3.3.3.3"], "binder.x.edu": ["3.3.3.3"], "hub.x.edu": ["9.9.9.9"]})
    assert dns_records.check_resolves(["binder.x.edu"], TARGET, resolve) == {"resolved": ["binder.x.edu"]}
    with pytest.raises(dns_records.DnsNotResolving, match="hub.x.edu resolves to"):
        dns_records.check_resolves(["binder.x.edu", "hub.x.edu"], TARGET, resolve)
    with pytest.raises(dns_records.DnsNotResolving, match="does not resolve"):
        dns_records.check_resolves(["nowhere.x.edu"], TARGET, resolve)
