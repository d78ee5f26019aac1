"""A Service of type LoadBalancer gets the load balancer (and health check) the AWS cloud provider would make."""
import json
import uuid

import pytest

from coursehub_local.cluster.load_balancer_rules import additional_tags, classic_health_check, nlb_health_check
from tests.conftest import eventually
from tests.local.cluster.test_cluster_api import active_cluster, add_nodegroup, kubeconfig, kubectl

HC = "service.beta.kubernetes.io/aws-load-balancer-healthcheck-"
LOCAL = {"externalTrafficPolicy": "Local", "healthCheckNodePort": 32000}


@pytest.fixture(scope="module")
def cluster(stack, tmp_path_factory):
    """One cluster with two nodes for the module; each test works in its own namespace."""
    name, described = active_cluster(stack)
    config = kubeconfig(tmp_path_factory.mktemp("lb"), stack, described)
    add_nodegroup(stack, name, desired=2)
    return name, config


@pytest.fixture
def namespace(cluster):
    ns = f"lb-{uuid.uuid4().hex[:6]}"
    kubectl(cluster[1], "create", "namespace", ns)
    yield ns
    kubectl(cluster[1], "delete", "namespace", ns, "--wait=false", check=False)  # and its load balancers


def hub(namespace, annotations=None):
    """z2jh's proxy-public in miniature: port 443 first, to a named port no container declares."""
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "proxy", "namespace": namespace},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"component": "proxy"}},
                 "template": {"metadata": {"labels": {"component": "proxy"}},
                              "spec": {"containers": [{"name": "chp", "image": "chp",
                                                       "ports": [{"name": "http", "containerPort": 8000}]}]}}},
    }
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "proxy-public", "namespace": namespace, "annotations": annotations or {}},
        "spec": {"type": "LoadBalancer", "selector": {"component": "proxy"},
                 "ports": [{"name": "https", "port": 443, "targetPort": "https"},
                           {"name": "http", "port": 80, "targetPort": "http"}]},
    }
    return deployment, service


def apply(config, *objects):
    for obj in objects:
        kubectl(config, "apply", "-f", "-", stdin=json.dumps(obj))


def service_of(config, namespace, name="proxy-public"):
    return json.loads(kubectl(config, "get", "service", name, "-n", namespace, "-o", "json").stdout)


def with_node_ports(config, namespace):
    """The Service once the controller has given every port a NodePort."""
    return eventually(lambda: (svc := service_of(config, namespace))
                      and all(p.get("nodePort") for p in svc["spec"]["ports"]) and svc)


def node_ports(service):
    return {p["port"]: p["nodePort"] for p in service["spec"]["ports"]}


def elb_name(service):
    return ("a" + service["metadata"]["uid"].replace("-", ""))[:32]


def classic(stack, name):
    found = stack.client("elb").describe_load_balancers()["LoadBalancerDescriptions"]
    return next((lb for lb in found if lb["LoadBalancerName"] == name), None)


def nlb(stack, name):
    found = stack.client("elbv2").describe_load_balancers()["LoadBalancers"]
    return next((lb for lb in found if lb["LoadBalancerName"] == name), None)


def target_groups(stack, lb):
    """The target groups of an NLB ([] before its first: moto answers TargetGroupNotFound then)."""
    elbv2 = stack.client("elbv2")
    try:
        return elbv2.describe_target_groups(LoadBalancerArn=lb["LoadBalancerArn"])["TargetGroups"]
    except elbv2.exceptions.TargetGroupNotFoundException:
        return []


def ensured(stack, name):
    """The ELB once the controller has finished with it (health check set, nodes registered)."""
    return eventually(lambda: (lb := classic(stack, name)) and "HealthCheck" in lb and len(lb["Instances"]) == 2 and lb)


def health_states(stack, name):
    return {i["State"] for i in stack.client("elb").describe_instance_health(LoadBalancerName=name)["InstanceStates"]}


def security_groups(stack, name):
    return stack.client("ec2").describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [f"k8s-elb-{name}"]}])["SecurityGroups"]


def deployment_ready(stack, config, namespace):
    stack.clock.advance(stack.clusters.timings.workload_ready)
    kubectl(config, "wait", "--for=condition=Available", "deployment/proxy", "-n", namespace, "--timeout=20s")


def test_first_port_443_is_health_checked_and_out_of_service_until_annotated(stack, cluster, namespace):
    name, config = cluster
    deployment, service = hub(namespace)
    apply(config, deployment, service)
    svc = with_node_ports(config, namespace)
    ports, lb_name = node_ports(svc), elb_name(svc)
    assert all(30000 <= p <= 32767 for p in ports.values()) and len(set(ports.values())) == 2
    elb = ensured(stack, lb_name)
    assert [d["Listener"] for d in elb["ListenerDescriptions"]] == [
        {"Protocol": "TCP", "LoadBalancerPort": 443, "InstanceProtocol": "TCP", "InstancePort": ports[443]},
        {"Protocol": "TCP", "LoadBalancerPort": 80, "InstanceProtocol": "TCP", "InstancePort": ports[80]}]
    assert elb["HealthCheck"] == {"Target": f"TCP:{ports[443]}", "Interval": 10, "Timeout": 5,
                                  "UnhealthyThreshold": 6, "HealthyThreshold": 2}
    assert sorted(elb["Subnets"]) == sorted(stack.seeded.subnet_ids)
    assert elb["SecurityGroups"] == [security_groups(stack, lb_name)[0]["GroupId"]]
    assert len(elb["Instances"]) == 2
    deployment_ready(stack, config, namespace)
    assert health_states(stack, lb_name) == {"OutOfService"}  # z2jh #1637

    kubectl(config, "annotate", "service", "proxy-public", "-n", namespace, f"{HC}port={ports[80]}",
            f"{HC}protocol=HTTP", f"{HC}path=/hub/health")
    eventually(lambda: classic(stack, lb_name)["HealthCheck"]["Target"] == f"HTTP:{ports[80]}/hub/health")
    assert health_states(stack, lb_name) == {"InService"}


def test_a_bare_configure_health_check_is_reverted_by_the_next_resync(stack, cluster, namespace):
    _, config = cluster
    deployment, service = hub(namespace)
    apply(config, deployment, service)
    svc = with_node_ports(config, namespace)
    ports, lb_name = node_ports(svc), elb_name(svc)
    ensured(stack, lb_name)
    answer = stack.client("elb").configure_health_check(LoadBalancerName=lb_name, HealthCheck={
        "Target": f"TCP:{ports[80]}", "Interval": 10, "Timeout": 5, "UnhealthyThreshold": 6, "HealthyThreshold": 2})
    # ELB's answer, not a later read: a periodic re-sync falling in between (likelier on a busy machine) would
    # already have reverted it
    assert answer["HealthCheck"]["Target"] == f"TCP:{ports[80]}"
    stack.clock.advance(stack.clusters.timings.health_check_resync)
    eventually(lambda: classic(stack, lb_name)["HealthCheck"]["Target"] == f"TCP:{ports[443]}")


def test_a_resubmitted_service_keeps_its_node_ports_and_a_taken_one_is_refused(stack, cluster, namespace):
    """kube-apiserver patchAllocatedValues and the port allocator (pkg/registry/core/service/storage)."""
    _, config = cluster
    _, service = hub(namespace)
    apply(config, service)
    ports = node_ports(service_of(config, namespace))
    # The same YAML again. kubectl replace sends the resourceVersion it just read, so a controller writing the
    # Service meanwhile (its load balancer status) makes it a 409 Conflict, as on any cluster: try again then.
    replaced = eventually(lambda: kubectl(config, "replace", "-f", "-", stdin=json.dumps(service), check=False)
                          .returncode == 0, timeout=30)
    assert replaced
    assert node_ports(service_of(config, namespace)) == ports

    other = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "other", "namespace": namespace},
             "spec": {"type": "NodePort", "selector": {"app": "x"}, "ports": [{"port": 80, "nodePort": ports[80]}]}}
    refused = kubectl(config, "apply", "-f", "-", stdin=json.dumps(other), check=False)
    assert refused.returncode != 0
    assert f"spec.ports[0].nodePort: Invalid value: {ports[80]}: provided port is already allocated" in refused.stderr
    other["spec"]["ports"][0]["nodePort"] = 29999
    refused = kubectl(config, "apply", "-f", "-", stdin=json.dumps(other), check=False)
    assert "provided port is not in the valid range. The range of valid ports is 30000-32767" in refused.stderr


def test_the_listeners_follow_when_every_node_port_changes(stack, cluster, namespace):
    _, config = cluster
    deployment, service = hub(namespace)
    apply(config, deployment, service)
    svc = with_node_ports(config, namespace)
    lb_name = elb_name(svc)
    ensured(stack, lb_name)
    taken = set(node_ports(svc).values())
    moved = dict(zip((443, 80), sorted({30001, 30002, 30003, 30004} - taken)[:2]))
    kubectl(config, "patch", "service", "proxy-public", "-n", namespace, "--type=json", "-p", json.dumps(
        [{"op": "replace", "path": f"/spec/ports/{i}/nodePort", "value": moved[p]} for i, p in enumerate((443, 80))]))
    eventually(lambda: {(d["Listener"]["LoadBalancerPort"], d["Listener"]["InstancePort"])
                        for d in classic(stack, lb_name)["ListenerDescriptions"]} == set(moved.items()))


def test_hostname_tags_and_deletion_with_the_service_or_its_namespace(stack, cluster, namespace):
    name, config = cluster
    _, service = hub(namespace)
    apply(config, service)
    lb_name = elb_name(service_of(config, namespace))
    elb = ensured(stack, lb_name)
    tags = stack.client("elb").describe_tags(LoadBalancerNames=[lb_name])["TagDescriptions"][0]["Tags"]
    assert {"Key": f"kubernetes.io/cluster/{name}", "Value": "owned"} in tags
    assert {"Key": "kubernetes.io/service-name", "Value": f"{namespace}/proxy-public"} in tags
    group_tags = security_groups(stack, lb_name)[0]["Tags"]
    assert {"Key": f"kubernetes.io/cluster/{name}", "Value": "owned"} in group_tags

    stack.clock.advance(stack.clusters.timings.load_balancer_ready)
    eventually(lambda: service_of(config, namespace)["status"].get("loadBalancer", {}).get("ingress")
               == [{"hostname": elb["DNSName"]}])
    kubectl(config, "delete", "service", "proxy-public", "-n", namespace)
    eventually(lambda: classic(stack, lb_name) is None and not security_groups(stack, lb_name))

    apply(config, service)
    lb_name = elb_name(service_of(config, namespace))
    eventually(lambda: classic(stack, lb_name) and security_groups(stack, lb_name))
    kubectl(config, "delete", "namespace", namespace, "--wait=false")
    eventually(lambda: classic(stack, lb_name) is None and not security_groups(stack, lb_name))


ADDITIONAL_TAGS = "service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags"


def test_the_additional_tags_annotation_is_read_as_the_provider_reads_it():
    # cloud-provider-aws aws_test.go TestGetKeyValuePropertiesFromAnnotation, its last case
    _, service = hub("ns", {ADDITIONAL_TAGS: "K=V K1=V2,Key1========, =====, ======Val, =Val, , 234,"})
    assert additional_tags(service) == {"K": "V K1", "Key1": "", "234": ""}
    assert additional_tags(hub("ns")[1]) == {}


def test_a_classic_elb_and_its_security_group_get_exactly_the_annotated_tags_and_the_providers(stack, cluster,
                                                                                                 namespace):
    name, config = cluster
    # The provider's own tags win over an annotated one of the same key (buildTags after the annotation's).
    _, service = hub(namespace, {ADDITIONAL_TAGS: "coursehub:hub=hub-x,coursehub:stage=dev,coursehub:course=cs1,"
                                                  f"kubernetes.io/cluster/{name}=shared"})
    apply(config, service)
    lb_name = elb_name(service_of(config, namespace))
    ensured(stack, lb_name)
    hub_tags = {"coursehub:hub": "hub-x", "coursehub:stage": "dev", "coursehub:course": "cs1"}
    tags = stack.client("elb").describe_tags(LoadBalancerNames=[lb_name])["TagDescriptions"][0]["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == {
        **hub_tags, f"kubernetes.io/cluster/{name}": "owned", "kubernetes.io/service-name": f"{namespace}/proxy-public"}
    group_tags = security_groups(stack, lb_name)[0]["Tags"]
    assert {t["Key"]: t["Value"] for t in group_tags} == {**hub_tags, f"kubernetes.io/cluster/{name}": "owned"}


def test_an_nlb_and_its_target_groups_get_the_annotated_tags(stack, cluster, namespace):
    name, config = cluster
    deployment, service = hub(namespace, {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
                                          ADDITIONAL_TAGS: "coursehub:hub=hub-y,coursehub:stage=prod"})
    apply(config, deployment, service)
    lb_name = elb_name(with_node_ports(config, namespace))
    elbv2 = stack.client("elbv2")
    lb = eventually(lambda: nlb(stack, lb_name))
    groups = eventually(lambda: len(found := target_groups(stack, lb)) == 2 and found)
    for arn in [lb["LoadBalancerArn"], *(g["TargetGroupArn"] for g in groups)]:
        tags = {t["Key"]: t["Value"] for t in elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"]}
        assert (tags["coursehub:hub"], tags["coursehub:stage"], tags[f"kubernetes.io/cluster/{name}"]) == (
            "hub-y", "prod", "owned"), arn


def test_an_nlb_gets_one_target_group_per_port_with_the_annotated_health_check(stack, cluster, namespace):
    name, config = cluster
    deployment, service = hub(namespace, {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
                                          f"{HC}protocol": "http", f"{HC}path": "/hub/health"})
    apply(config, deployment, service)
    svc = with_node_ports(config, namespace)
    ports, lb_name = node_ports(svc), elb_name(svc)
    elbv2 = stack.client("elbv2")
    lb = eventually(lambda: nlb(stack, lb_name))
    assert lb["Type"] == "network"
    groups = eventually(lambda: len(found := target_groups(stack, lb)) == 2 and {g["Port"]: g for g in found})
    assert set(groups) == {ports[443], ports[80]}
    for group in groups.values():
        assert (group["HealthCheckProtocol"], group["HealthCheckPort"], group["HealthCheckPath"]) == \
            ("HTTP", "traffic-port", "/hub/health")
        assert (group["HealthCheckIntervalSeconds"], group["HealthyThresholdCount"],
                group["UnhealthyThresholdCount"]) == (30, 3, 3)
        assert group["TargetGroupName"].startswith(f"k8s-{namespace.replace('-', '')}-proxypub-")
    tags = elbv2.describe_tags(ResourceArns=[lb["LoadBalancerArn"]])["TagDescriptions"][0]["Tags"]
    assert {"Key": f"kubernetes.io/cluster/{name}", "Value": "owned"} in tags
    deployment_ready(stack, config, namespace)

    def states(port):
        arn = groups[port]["TargetGroupArn"]
        health = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
        return {(h["Target"]["Port"], h["TargetHealth"]["State"]) for h in health}
    eventually(lambda: states(ports[80]) == {(ports[80], "healthy")})
    assert states(ports[443]) == {(ports[443], "unhealthy")}

    kubectl(config, "delete", "service", "proxy-public", "-n", namespace)
    eventually(lambda: nlb(stack, lb_name) is None)
    left = {g["TargetGroupArn"] for g in elbv2.describe_target_groups()["TargetGroups"]}
    assert not left & {g["TargetGroupArn"] for g in groups.values()}


def _service(annotations=None, **spec):
    return {"metadata": {"namespace": "jhub", "name": "proxy-public", "uid": "u", "annotations": annotations or {}},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 443, "nodePort": 31443, "protocol": "TCP"},
                                                       {"port": 80, "nodePort": 31080, "protocol": "TCP"}], **spec}}


@pytest.mark.parametrize("annotations, spec, target", [
    ({}, {}, "TCP:31443"),
    ({f"{HC}port": "traffic-port", f"{HC}protocol": "http"}, {}, "HTTP:31443/"),
    ({f"{HC}port": "31080", f"{HC}protocol": "TCP", f"{HC}path": "/ignored"}, {}, "TCP:31080"),
    ({"service.beta.kubernetes.io/aws-load-balancer-backend-protocol": "https"}, {}, "SSL:31443"),
    ({}, LOCAL, "HTTP:32000/healthz"),
    ({f"{HC}port": "traffic-port"}, LOCAL, "HTTP:31443/healthz"),
])
def test_the_classic_health_check_target_follows_the_cloud_provider(annotations, spec, target):
    assert classic_health_check(_service(annotations, **spec))["Target"] == target


def test_nlb_health_check_defaults_differ_between_in_tree_and_the_load_balancer_controller():
    in_tree = nlb_health_check(_service({"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}))
    external = nlb_health_check(_service({"service.beta.kubernetes.io/aws-load-balancer-type": "external",
                                          "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "instance",
                                          f"{HC}interval": "15"}))
    assert in_tree == {"port": "traffic-port", "path": "", "protocol": "TCP", "interval": 30, "timeout": 10,
                       "healthy-threshold": 3, "unhealthy-threshold": 3}
    assert (external["interval"], external["timeout"], external["healthy-threshold"]) == (15, 10, 3)
