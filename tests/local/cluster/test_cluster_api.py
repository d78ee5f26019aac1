"""Each EKS cluster of the local stack has a live Kubernetes API with nodes and workloads that behave like EKS."""
import base64
import json
import subprocess
import uuid

from chalicelib.eks_token import get_token
from chalicelib.kubeconfig import for_cluster, write_private
from coursehub.tools import tool_path
from tests.conftest import eventually

DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "web", "image": "nginx"}]}}},
}


def active_cluster(stack):
    eks = stack.client("eks")
    name = f"k-{uuid.uuid4().hex[:8]}"
    eks.create_cluster(name=name, roleArn=stack.seeded.roles["eks-cluster"],
                       resourcesVpcConfig={"subnetIds": stack.seeded.subnet_ids})
    stack.clock.advance(stack.config.eks.cluster_create)
    eventually(lambda: eks.describe_cluster(name=name)["cluster"]["status"] == "ACTIVE")
    return name, eks.describe_cluster(name=name)["cluster"]


def kubeconfig(tmp_path, stack, cluster, token_for=None):
    """A kubeconfig built only from describe_cluster and an EKS token, as production builds it."""
    token = get_token(stack.client("sts"), token_for or cluster["name"])
    return write_private(for_cluster(cluster, token), str(tmp_path))


def kubectl(config, *args, check=True, stdin=None):
    return subprocess.run([str(tool_path("kubectl")), "--kubeconfig", str(config), *args], input=stdin,
                          capture_output=True, text=True, check=check, timeout=60)


def add_nodegroup(stack, name, desired):
    eks = stack.client("eks")
    eks.create_nodegroup(clusterName=name, nodegroupName="workers", subnets=stack.seeded.subnet_ids,
                         nodeRole=stack.seeded.roles["eks-node"], instanceTypes=["m5.large"],
                         scalingConfig={"minSize": 0, "maxSize": 3, "desiredSize": desired})
    stack.clock.advance(stack.config.eks.nodegroup_create)
    eventually(lambda: eks.describe_nodegroup(clusterName=name, nodegroupName="workers")["nodegroup"]["status"]
               == "ACTIVE")


def scale(stack, name, desired):
    eks = stack.client("eks")
    eks.update_nodegroup_config(clusterName=name, nodegroupName="workers",
                                scalingConfig={"minSize": 0, "maxSize": 3, "desiredSize": desired})
    stack.clock.advance(stack.config.eks.nodegroup_update)
    eventually(lambda: eks.describe_nodegroup(clusterName=name, nodegroupName="workers")["nodegroup"]["status"]
               == "ACTIVE")


def node_names(config):
    return json.loads(kubectl(config, "get", "nodes", "-o", "json").stdout)["items"]


def test_describe_cluster_gives_a_working_endpoint_and_ca(stack, tmp_path):
    name, cluster = active_cluster(stack)
    assert cluster["endpoint"].startswith("https://127.0.0.1:")
    assert base64.b64decode(cluster["certificateAuthority"]["data"]).startswith(b"-----BEGIN CERTIFICATE-----")
    result = kubectl(kubeconfig(tmp_path, stack, cluster), "get", "namespaces", "-o", "name")
    assert "namespace/kube-system" in result.stdout


def test_a_token_for_another_cluster_is_refused(stack, tmp_path):
    _, cluster = active_cluster(stack)
    result = kubectl(kubeconfig(tmp_path, stack, cluster, token_for="some-other-cluster"),
                     "get", "namespaces", check=False)
    assert result.returncode != 0
    assert "Unauthorized" in result.stderr or "must be logged in" in result.stderr


def test_nodes_follow_the_node_group_and_workloads_follow_the_nodes(stack, tmp_path):
    name, cluster = active_cluster(stack)
    config = kubeconfig(tmp_path, stack, cluster)
    add_nodegroup(stack, name, desired=2)
    eventually(lambda: len(node_names(config)) == 2)
    instances = stack.client("ec2").describe_instances(Filters=[
        {"Name": "tag:eks:cluster-name", "Values": [name]},
        {"Name": "instance-state-name", "Values": ["running"]}])["Reservations"]
    assert sum(len(r["Instances"]) for r in instances) == 2

    kubectl(config, "apply", "-f", "-", stdin=json.dumps(DEPLOYMENT))
    stack.clock.advance(stack.clusters.timings.workload_ready)
    kubectl(config, "wait", "--for=condition=Available", "deployment/web", "--timeout=30s")

    scale(stack, name, 0)
    eventually(lambda: node_names(config) == [])
    status = json.loads(kubectl(config, "get", "deployment", "web", "-o", "json").stdout)["status"]
    assert status.get("readyReplicas", 0) == 0

    scale(stack, name, 1)
    eventually(lambda: len(node_names(config)) == 1)
    stack.clock.advance(stack.clusters.timings.workload_ready)
    kubectl(config, "wait", "--for=condition=Available", "deployment/web", "--timeout=30s")


def test_deleting_the_cluster_stops_its_api(stack, tmp_path):
    name, cluster = active_cluster(stack)
    config = kubeconfig(tmp_path, stack, cluster)
    kubectl(config, "get", "namespaces")
    stack.client("eks").delete_cluster(name=name)
    stack.clock.advance(stack.config.eks.cluster_delete)
    eventually(lambda: name not in stack.client("eks").list_clusters()["clusters"])
    result = kubectl(config, "get", "namespaces", "--request-timeout=5s", check=False)
    assert result.returncode != 0
