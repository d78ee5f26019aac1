"""What a teardown finds in AWS: the cluster's load balancers, security groups, volumes and instances come
and go exactly when AWS makes them come and go, and stay behind when the cluster goes first."""
import dataclasses
import json
import time
import uuid

import pytest

from coursehub_local.cluster.cluster_aws import ClusterAws
from tests.conftest import eventually
from tests.local.cluster.test_cluster_api import active_cluster, add_nodegroup, kubeconfig, kubectl, scale
from tests.local.cluster.test_load_balancers import (apply, classic, elb_name, nlb, security_groups, service_of,
                                                      target_groups)
from tests.local.cluster.test_volumes import ebs_csi

RELEASE = 1200  # simulated seconds (2 real ones) a deleted ELB holds its security group, in the clusters made here


@pytest.fixture(scope="module")
def cluster(stack, tmp_path_factory):
    """One node, the EBS CSI add-on, and a release time long enough to see a Service whose ELB is gone but not its
    group."""
    timings = stack.clusters.timings
    stack.clusters.timings = dataclasses.replace(timings, elb_security_group_release=RELEASE)
    try:
        name, described = active_cluster(stack)
    finally:
        stack.clusters.timings = timings
    add_nodegroup(stack, name, desired=1)
    ebs_csi(stack, name)
    return name, kubeconfig(tmp_path_factory.mktemp("teardown"), stack, described)


@pytest.fixture
def namespace(cluster):
    ns = f"td-{uuid.uuid4().hex[:6]}"
    kubectl(cluster[1], "create", "namespace", ns)
    return ns


def web(namespace, claim=None, annotations=None):
    """A Deployment serving port 80 (mounting ``claim`` if given) and its LoadBalancer Service."""
    pod = {"containers": [{"name": "web", "image": "nginx", "ports": [{"name": "http", "containerPort": 80}]}]}
    if claim:
        pod["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": namespace},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                           "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod}}}
    service = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "web", "namespace": namespace, "annotations": annotations or {}},
               "spec": {"type": "LoadBalancer", "selector": {"app": "web"},
                        "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}
    return deployment, service


def claim(namespace, name="data", storage_class=None):
    spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def get(config, *args):
    result = kubectl(config, "get", *args, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def volume_of(stack, cluster, namespace, name="data"):
    found = stack.client("ec2").describe_volumes(Filters=[
        {"Name": f"tag:kubernetes.io/cluster/{cluster}", "Values": ["owned"]},
        {"Name": "tag:kubernetes.io/created-for/pvc/namespace", "Values": [namespace]},
        {"Name": "tag:kubernetes.io/created-for/pvc/name", "Values": [name]}])["Volumes"]
    return found[0] if found else None


def instances(stack, cluster, states=("pending", "running")):
    reservations = stack.client("ec2").describe_instances(Filters=[
        {"Name": "tag:eks:cluster-name", "Values": [cluster]},
        {"Name": "instance-state-name", "Values": list(states)}])["Reservations"]
    return [i for r in reservations for i in r["Instances"]]


def cluster_group(stack, cluster):
    config = stack.client("eks").describe_cluster(name=cluster)["cluster"]["resourcesVpcConfig"]
    group = config["clusterSecurityGroupId"]
    return stack.client("ec2").describe_security_groups(GroupIds=[group])["SecurityGroups"][0]


def lets_in(group, source):
    return any(pair["GroupId"] == source for rule in group["IpPermissions"] for pair in rule["UserIdGroupPairs"])


def in_service(stack, lb_name):
    states = stack.client("elb").describe_instance_health(LoadBalancerName=lb_name)["InstanceStates"]
    return bool(states) and all(s["State"] == "InService" for s in states)


def deployment_status(config, namespace):
    return (get(config, "deployment", "web", "-n", namespace) or {}).get("status", {})


def bound(stack, config, namespace, name="data"):
    stack.clock.advance(stack.clusters.timings.volume_ready)
    return eventually(lambda: (pvc := get(config, "pvc", name, "-n", namespace))
                      and pvc.get("status", {}).get("phase") == "Bound" and pvc)


def cluster_with_a_node(stack, tmp_path):
    """A fresh ACTIVE cluster with one node, the EBS CSI add-on and a "hub" namespace: name, kubeconfig, namespace."""
    name, described = active_cluster(stack)
    config = kubeconfig(tmp_path, stack, described)
    add_nodegroup(stack, name, desired=1)
    ebs_csi(stack, name)
    kubectl(config, "create", "namespace", "hub")
    return name, config, "hub"


def test_nodes_scale_to_zero_and_back_taking_workloads_volumes_and_elb_registrations_with_them(stack, tmp_path):
    name, config, namespace = cluster_with_a_node(stack, tmp_path)
    deployment, service = web(namespace, claim="data")
    apply(config, claim(namespace), deployment, service)
    bound(stack, config, namespace)
    stack.clock.advance(stack.clusters.timings.workload_ready)
    lb_name = elb_name(service_of(config, namespace, "web"))
    eventually(lambda: classic(stack, lb_name) and in_service(stack, lb_name))
    [node] = instances(stack, name)
    group = cluster_group(stack, name)
    assert [g["GroupId"] for g in node["SecurityGroups"]] == [group["GroupId"]]  # EKS's cluster security group
    eventually(lambda: lets_in(cluster_group(stack, name), classic(stack, lb_name)["SecurityGroups"][0]))
    eventually(lambda: volume_of(stack, name, namespace)["State"] == "in-use")
    assert volume_of(stack, name, namespace)["Attachments"][0]["InstanceId"] == node["InstanceId"]

    scale(stack, name, 0)
    eventually(lambda: instances(stack, name) == [] and get(config, "nodes")["items"] == [])
    eventually(lambda: deployment_status(config, namespace).get("availableReplicas") == 0)
    eventually(lambda: classic(stack, lb_name)["Instances"] == [])
    assert volume_of(stack, name, namespace)["State"] == "available"  # detached when its instance terminated

    scale(stack, name, 1)
    [new] = eventually(lambda: instances(stack, name, ("running",)))
    assert new["InstanceId"] != node["InstanceId"]
    eventually(lambda: [c["status"] for n in get(config, "nodes")["items"] for c in n["status"]["conditions"]
                        if c["type"] == "Ready"] == ["True"])
    stack.clock.advance(stack.clusters.timings.workload_ready)
    eventually(lambda: deployment_status(config, namespace).get("availableReplicas") == 1)
    eventually(lambda: [i["InstanceId"] for i in classic(stack, lb_name)["Instances"]] == [new["InstanceId"]])
    eventually(lambda: in_service(stack, lb_name))
    eventually(lambda: volume_of(stack, name, namespace)["Attachments"][0]["InstanceId"] == new["InstanceId"])

    stack.client("eks").delete_nodegroup(clusterName=name, nodegroupName="workers")
    stack.clock.advance(stack.config.eks.nodegroup_delete)
    eventually(lambda: instances(stack, name) == [] and get(config, "nodes")["items"] == [])
    assert {i["InstanceId"] for i in instances(stack, name, ("terminated",))} == {node["InstanceId"], new["InstanceId"]}
    eventually(lambda: classic(stack, lb_name)["Instances"] == [])  # the controller's next pass deregisters it
    in_group = stack.client("ec2").describe_network_interfaces(
        Filters=[{"Name": "group-id", "Values": [group["GroupId"]]}])["NetworkInterfaces"]
    assert {i["Description"] for i in in_group} == {f"Amazon EKS {name}"}  # the nodes' went with them


def test_a_deleted_service_keeps_its_finalizer_until_its_elb_has_released_its_security_group(stack, cluster, namespace):
    name, config = cluster
    deployment, service = web(namespace)
    apply(config, deployment, service)
    svc = eventually(lambda: (s := service_of(config, namespace, "web"))
                     and "service.kubernetes.io/load-balancer-cleanup" in s["metadata"].get("finalizers", []) and s)
    lb_name = elb_name(svc)
    elb = eventually(lambda: (lb := classic(stack, lb_name)) and lb["Instances"] and lb)
    [group] = security_groups(stack, lb_name)
    assert group["Tags"] == [{"Key": f"kubernetes.io/cluster/{name}", "Value": "owned"}]  # ensureSecurityGroup's only
    assert elb["SecurityGroups"] == [group["GroupId"]]
    eventually(lambda: lets_in(cluster_group(stack, name), group["GroupId"]))

    kubectl(config, "delete", "service", "web", "-n", namespace, "--wait=false")
    eventually(lambda: classic(stack, lb_name) is None)
    assert not lets_in(cluster_group(stack, name), group["GroupId"])  # revoked first, or the group could not go
    assert security_groups(stack, lb_name)  # DependencyViolation until the ELB has finished deleting
    assert get(config, "service", "web", "-n", namespace)["metadata"]["deletionTimestamp"]

    stack.clock.advance(RELEASE)
    eventually(lambda: not security_groups(stack, lb_name) and get(config, "service", "web", "-n", namespace) is None)


def test_a_claim_in_use_stays_until_its_pods_go_then_its_volume_is_detached_and_deleted(stack, cluster, namespace):
    name, config = cluster
    deployment, _ = web(namespace, claim="data")
    apply(config, claim(namespace), deployment)
    pvc = bound(stack, config, namespace)
    assert "kubernetes.io/pvc-protection" in pvc["metadata"]["finalizers"]
    stack.clock.advance(stack.clusters.timings.workload_ready)
    volume = eventually(lambda: (v := volume_of(stack, name, namespace)) and v["State"] == "in-use" and v)
    tags = {t["Key"]: t["Value"] for t in volume["Tags"]}
    assert (tags["KubernetesCluster"], tags["Name"]) == (name, f"{name}-dynamic-{pvc['spec']['volumeName']}")

    kubectl(config, "delete", "pvc", "data", "-n", namespace, "--wait=false")
    time.sleep(0.3)  # a few controller passes
    assert get(config, "pvc", "data", "-n", namespace)["metadata"]["deletionTimestamp"]
    assert volume_of(stack, name, namespace)["State"] == "in-use"  # its pod still runs

    kubectl(config, "delete", "deployment", "web", "-n", namespace)
    eventually(lambda: get(config, "pvc", "data", "-n", namespace) is None)
    eventually(lambda: volume_of(stack, name, namespace) is None)
    assert get(config, "pv", pvc["spec"]["volumeName"]) is None


def test_with_no_node_for_the_drivers_controller_a_deleted_claims_volume_stays_until_the_controller_runs(stack,
                                                                                                         tmp_path):
    """EKS refuses to delete the volume without the driver's controller: it is the external deleter
    (sig-storage-lib-external-provisioner ``shouldDelete``), and its pod needs a node."""
    name, config, namespace = cluster_with_a_node(stack, tmp_path)
    deployment, _ = web(namespace, claim="data")
    apply(config, claim(namespace), deployment)
    pv_name = bound(stack, config, namespace)["spec"]["volumeName"]
    stack.clock.advance(stack.clusters.timings.workload_ready)
    eventually(lambda: volume_of(stack, name, namespace)["State"] == "in-use")

    scale(stack, name, 0)  # the nightly scale-down
    eventually(lambda: instances(stack, name) == [] and get(config, "nodes")["items"] == [])
    eventually(lambda: not controller_ready(config))
    assert volume_of(stack, name, namespace)["State"] == "available"  # EC2 detached it from the terminated instance
    kubectl(config, "delete", "deployment", "web", "-n", namespace)
    kubectl(config, "delete", "pvc", "data", "-n", namespace)  # the claim goes: its protection is the control plane's
    eventually(lambda: get(config, "pv", pv_name)["status"]["phase"] == "Released")
    stack.clock.advance(3600)
    time.sleep(0.3)  # a few controller passes
    assert volume_of(stack, name, namespace)["State"] == "available"  # refused: nobody can delete it
    assert get(config, "pv", pv_name)["status"]["phase"] == "Released"

    scale(stack, name, 1)
    stack.clock.advance(stack.clusters.timings.workload_ready)
    eventually(lambda: controller_ready(config))
    eventually(lambda: volume_of(stack, name, namespace) is None)  # the provisioner deletes what was Released
    eventually(lambda: get(config, "pv", pv_name) is None)


def controller_ready(config):
    """Whether a replica of the EBS CSI driver's controller runs."""
    return ((get(config, "deployment", "ebs-csi-controller", "-n", "kube-system") or {}).get("status") or {}).get(
        "readyReplicas", 0) > 0


def test_a_retained_volume_outlives_its_claim(stack, cluster, namespace):
    name, config = cluster
    storage_class = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                     "metadata": {"name": f"keep-{namespace}"}, "provisioner": "ebs.csi.aws.com",
                     "reclaimPolicy": "Retain", "parameters": {"type": "gp2"}}
    apply(config, storage_class, claim(namespace, storage_class=f"keep-{namespace}"))
    pvc = bound(stack, config, namespace)
    assert volume_of(stack, name, namespace)["VolumeType"] == "gp2"
    kubectl(config, "delete", "pvc", "data", "-n", namespace)
    eventually(lambda: get(config, "pv", pvc["spec"]["volumeName"])["status"]["phase"] == "Released")
    assert volume_of(stack, name, namespace)["State"] == "available"  # for whoever tears down to find


def test_deleting_the_namespace_deletes_an_nlb_and_its_target_groups(stack, cluster, namespace):
    name, config = cluster
    _, service = web(namespace, annotations={"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"})
    apply(config, service)
    lb_name = elb_name(service_of(config, namespace, "web"))
    elbv2 = stack.client("elbv2")
    lb = eventually(lambda: nlb(stack, lb_name))
    [group] = eventually(lambda: target_groups(stack, lb))
    tags = elbv2.describe_tags(ResourceArns=[group["TargetGroupArn"]])["TagDescriptions"][0]["Tags"]
    assert {"Key": f"kubernetes.io/cluster/{name}", "Value": "owned"} in tags
    assert {"Key": "kubernetes.io/service-name", "Value": f"{namespace}/web"} in tags

    kubectl(config, "delete", "namespace", namespace, "--wait=false")
    eventually(lambda: nlb(stack, lb_name) is None)
    assert group["TargetGroupArn"] not in {g["TargetGroupArn"] for g in elbv2.describe_target_groups()["TargetGroups"]}


def test_deleting_the_cluster_first_leaves_its_load_balancers_security_groups_and_volumes_behind(stack, tmp_path):
    name, config, namespace = cluster_with_a_node(stack, tmp_path)
    deployment, service = web(namespace, claim="data")
    _, network = web(namespace, annotations={"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"})
    network["metadata"]["name"] = "web-nlb"
    apply(config, claim(namespace), deployment, service, network)
    bound(stack, config, namespace)
    lb_name = elb_name(service_of(config, namespace, "web"))
    nlb_name = elb_name(service_of(config, namespace, "web-nlb"))
    eventually(lambda: classic(stack, lb_name) and security_groups(stack, lb_name)
               and (lb := nlb(stack, nlb_name)) and target_groups(stack, lb))
    eks, ec2 = stack.client("eks"), stack.client("ec2")
    eks_group = cluster_group(stack, name)["GroupId"]

    eks.delete_nodegroup(clusterName=name, nodegroupName="workers")
    stack.clock.advance(stack.config.eks.nodegroup_delete)
    eventually(lambda: eks.list_nodegroups(clusterName=name)["nodegroups"] == [] and instances(stack, name) == [])
    eks.delete_cluster(name=name)
    stack.clock.advance(stack.config.eks.cluster_delete)
    eventually(lambda: name not in eks.list_clusters()["clusters"])
    stack.clock.advance(2 * stack.clusters.timings.health_check_resync)  # nothing is left to clean up after it
    time.sleep(0.3)

    assert classic(stack, lb_name) and security_groups(stack, lb_name)
    lb = nlb(stack, nlb_name)
    assert lb and target_groups(stack, lb)
    assert volume_of(stack, name, namespace)["State"] == "available"
    assert not ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": [eks_group]}])["SecurityGroups"]
    assert not ec2.describe_network_interfaces(
        Filters=[{"Name": "description", "Values": [f"Amazon EKS {name}"]}])["NetworkInterfaces"]


def test_the_load_balancer_controller_tags_what_it_makes_its_own_way():
    aws = ClusterAws(dataclasses.make_dataclass("Ctx", ["name", "client"])("c1", None))
    service = {"metadata": {"namespace": "hub", "name": "web", "annotations": {
        "service.beta.kubernetes.io/aws-load-balancer-type": "external"}}}
    assert aws.tags(service, "hub/web:80") == [{"Key": "elbv2.k8s.aws/cluster", "Value": "c1"},
                                               {"Key": "service.k8s.aws/stack", "Value": "hub/web"},
                                               {"Key": "service.k8s.aws/resource", "Value": "hub/web:80"}]
    service["metadata"]["annotations"] = {}
    assert aws.tags(service) == [{"Key": "kubernetes.io/cluster/c1", "Value": "owned"},
                                 {"Key": "kubernetes.io/service-name", "Value": "hub/web"}]
