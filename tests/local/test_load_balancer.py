"""The health-check step against moto's classic ELB and NLB APIs on the local stack."""
import uuid

import pytest

from chalicelib import load_balancer


def service(dns_name, ports):
    return {"metadata": {"name": "ingress-controller"},
            "spec": {"ports": [{"name": name, "port": port, "nodePort": node} for name, port, node in ports]},
            "status": {"loadBalancer": {"ingress": [{"hostname": dns_name}]}}}


def classic(stack, first_node_port):
    elb = stack.client("elb")
    name = f"a{uuid.uuid4().hex[:20]}"
    elb.create_load_balancer(LoadBalancerName=name, Subnets=stack.seeded.subnet_ids[:1], Listeners=[
        {"Protocol": "TCP", "LoadBalancerPort": 443, "InstancePort": 31443},
        {"Protocol": "TCP", "LoadBalancerPort": 80, "InstancePort": 31080}])
    elb.configure_health_check(LoadBalancerName=name, HealthCheck={
        "Target": f"TCP:{first_node_port}", "Interval": 10, "Timeout": 5, "UnhealthyThreshold": 6,
        "HealthyThreshold": 2})
    return name, elb.describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"][0]["DNSName"]


def test_a_health_check_on_the_443_node_port_is_moved_to_port_80s(stack):
    name, dns = classic(stack, 31443)
    svc = service(dns, [("https", 443, 31443), ("http", 80, 31080)])
    found = load_balancer.ensure_health_check(stack.client("elb"), stack.client("elbv2"), svc)
    assert found["patched"] is True and found["health_check_was"] == "TCP:31443"
    described = stack.client("elb").describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"][0]
    assert described["HealthCheck"]["Target"] == "TCP:31080"
    again = load_balancer.ensure_health_check(stack.client("elb"), stack.client("elbv2"), svc)
    assert again["patched"] is False


def test_a_right_health_check_is_left_alone(stack):
    _, dns = classic(stack, 31080)
    svc = service(dns, [("http", 80, 31080), ("https", 443, 31443)])
    assert load_balancer.ensure_health_check(stack.client("elb"), stack.client("elbv2"), svc)["patched"] is False


def test_an_nlb_target_group_on_the_wrong_port_is_fixed(stack):
    elbv2 = stack.client("elbv2")
    vpc = stack.seeded.vpc_id
    nlb = elbv2.create_load_balancer(Name=f"n{uuid.uuid4().hex[:10]}", Type="network",
                                     Subnets=stack.seeded.subnet_ids[:1])["LoadBalancers"][0]
    group = elbv2.create_target_group(Name=f"k8s-{uuid.uuid4().hex[:8]}", Protocol="TCP", Port=31080, VpcId=vpc,
                                      TargetType="instance", HealthCheckPort="31443")["TargetGroups"][0]
    elbv2.create_listener(LoadBalancerArn=nlb["LoadBalancerArn"], Protocol="TCP", Port=80,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}])
    svc = service(nlb["DNSName"], [("http", 80, 31080)])
    found = load_balancer.ensure_health_check(stack.client("elb"), elbv2, svc)
    assert found == {**found, "type": "network", "patched": True, "health_check_was": "31443"}
    group = elbv2.describe_target_groups(TargetGroupArns=[group["TargetGroupArn"]])["TargetGroups"][0]
    assert group["HealthCheckPort"] == "traffic-port"


def test_no_hostname_yet_means_not_ready(stack):
    with pytest.raises(load_balancer.LoadBalancerNotReady):
        load_balancer.ensure_health_check(stack.client("elb"), stack.client("elbv2"),
                                          {"metadata": {"name": "x"}, "spec": {}, "status": {}})
    with pytest.raises(load_balancer.LoadBalancerNotReady):
        load_balancer.ensure_health_check(stack.client("elb"), stack.client("elbv2"),
                                          service("nothing.elb.amazonaws.com", [("http", 80, 30001)]))
