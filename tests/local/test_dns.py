"""Resolution through the stack's Route53: longest zone, CNAME chains and alias records, down to a load balancer."""
import uuid

import pytest

from coursehub_local.dns import LocalDns


@pytest.fixture
def setup(stack):
    """Zones ``<id>.test`` and ``binder.<id>.test``, a classic ELB and an NLB, on the session's local stack.

    (Not ``mock_aws``: leaving it resets the moto backends the session's stack serves.)
    """
    tag = uuid.uuid4().hex[:8]
    elb_client, elbv2 = stack.client("elb"), stack.client("elbv2")
    elb = elb_client.create_load_balancer(
        LoadBalancerName=f"classic-{tag}", AvailabilityZones=[f"{stack.config.region}a"],
        Listeners=[{"Protocol": "TCP", "LoadBalancerPort": 443, "InstancePort": 30443}])["DNSName"]
    nlb = elbv2.create_load_balancer(Name=f"nlb-{tag}", Subnets=stack.seeded.subnet_ids,
                                     Type="network")["LoadBalancers"][0]
    route53 = stack.client("route53")
    base = f"{tag}.test"
    zones = {key: route53.create_hosted_zone(Name=name, CallerReference=name)["HostedZone"]["Id"]
             for key, name in (("apex", base), ("binder", f"binder.{base}"))}
    yield LocalDns(stack.client), route53, zones, elb, nlb["DNSName"], base
    elb_client.delete_load_balancer(LoadBalancerName=f"classic-{tag}")
    elbv2.delete_load_balancer(LoadBalancerArn=nlb["LoadBalancerArn"])
    for zone in zones.values():
        for record in route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]:
            if record["Type"] not in ("NS", "SOA"):
                route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [
                    {"Action": "DELETE", "ResourceRecordSet": record}]})
        route53.delete_hosted_zone(Id=zone)


def records(route53, zone, *sets):
    route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [
        {"Action": "UPSERT", "ResourceRecordSet": s} for s in sets]})


def cname(name, value):
    return {"Name": name, "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": value}]}


def test_a_cname_to_a_classic_elb_resolves_to_its_dns_name(setup):
    dns, route53, zones, elb, _, base = setup
    records(route53, zones["apex"], cname(f"hub.{base}", elb))
    assert dns.resolve(f"hub.{base}") == elb.lower()
    assert dns.resolve(f"HUB.{base}.") == elb.lower()


def test_an_alias_record_to_an_nlb_resolves_without_the_dualstack_prefix(setup):
    dns, route53, zones, _, nlb, base = setup
    records(route53, zones["apex"], {"Name": base, "Type": "A", "AliasTarget": {
        "HostedZoneId": "Z26RNL4JYFTOTI", "DNSName": f"dualstack.{nlb}.", "EvaluateTargetHealth": False}})
    assert dns.resolve(base) == nlb.lower()


def test_the_longest_matching_zone_answers_and_chains_are_followed(setup):
    dns, route53, zones, elb, _, base = setup
    records(route53, zones["apex"], cname(f"hub.binder.{base}", "wrong.example.org"))
    records(route53, zones["binder"], cname(f"hub.binder.{base}", f"front.binder.{base}"),
            cname(f"front.binder.{base}", elb))
    assert dns.resolve(f"hub.binder.{base}") == elb.lower()


def test_wildcard_records_apply_only_to_names_that_do_not_exist(setup):
    dns, route53, zones, elb, _, base = setup
    records(route53, zones["apex"], cname(f"*.labs.{base}", elb),
            {"Name": f"txt.labs.{base}", "Type": "TXT", "TTL": 60, "ResourceRecords": [{"Value": '"x"'}]})
    assert dns.resolve(f"a.labs.{base}") == elb.lower()
    assert dns.resolve(f"txt.labs.{base}") is None


def test_names_that_lead_to_no_load_balancer_do_not_resolve(setup):
    dns, route53, zones, _, _, base = setup
    records(route53, zones["apex"], cname(f"loop.{base}", f"loop2.{base}"),
            cname(f"loop2.{base}", f"loop.{base}"), cname(f"elsewhere.{base}", "www.example.org"),
            {"Name": f"plain.{base}", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.1"}]})
    for host in (f"missing.{base}", "outside.example.org", f"loop.{base}", f"elsewhere.{base}", f"plain.{base}"):
        assert dns.resolve(host) is None, host


def test_fronts_are_registered_per_load_balancer_name():
    dns = LocalDns(lambda service: None)
    dns.register_front("A1.elb.amazonaws.com", ("127.0.0.1", 4443))
    assert dns.front_for("a1.elb.amazonaws.com.") == ("127.0.0.1", 4443)
    dns.unregister_front("a1.elb.amazonaws.com", ("127.0.0.1", 9999))  # someone else's: kept
    assert dns.front_for("a1.elb.amazonaws.com") == ("127.0.0.1", 4443)
    dns.unregister_front("a1.elb.amazonaws.com")
    assert dns.front_for("a1.elb.amazonaws.com") is None
