"""PersistentVolumeClaims on the local clusters: Pending with Kubernetes' own events until EKS has what binding needs
(a storage class, the EBS CSI add-on, Pod Identity for its controller, a node for the consumer), then a tagged EBS
volume in the consumer's zone, gone with the claim."""
import json
import uuid

import pytest

from coursehub_local.cluster.volumes import size_in_gib
from tests.conftest import eventually
from tests.local.cluster.test_cluster_api import active_cluster, kubeconfig, kubectl

NO_CLASS = "no persistent volumes available for this claim and no storage class is set"


def ebs_csi(stack, name, association=True, role=None, extra_tags=None):
    """The add-ons and the association the product creates: the driver with a default class and cluster tags."""
    eks = stack.client("eks")
    eks.create_addon(clusterName=name, addonName="eks-pod-identity-agent")
    eks.create_addon(clusterName=name, addonName="aws-ebs-csi-driver", configurationValues=json.dumps({
        "defaultStorageClass": {"enabled": True},
        "controller": {"k8sTagClusterId": name, "extraVolumeTags": extra_tags or {}}}))
    if association:
        associate(stack, name, role or stack.seeded.roles["ebs-csi"])
    stack.clock.advance(stack.config.eks.addon_create)
    store = stack.clusters.server(name).store
    eventually(lambda: store.list(store.resource_type("storage.k8s.io/v1", "StorageClass"))[0])
    stack.clock.advance(stack.clusters.timings.workload_ready)  # the driver's controller and the agent start


def associate(stack, name, role):
    stack.client("eks").create_pod_identity_association(
        clusterName=name, namespace="kube-system", serviceAccount="ebs-csi-controller-sa", roleArn=role)


def claim(namespace, name="hub-db-dir", storage="1500Mi", storage_class=None):
    spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}}
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": namespace},
            "spec": spec}


def hub(namespace, claim_name="hub-db-dir"):
    """A Deployment mounting the claim, as the JupyterHub chart's hub does (labels app: jupyterhub, component: hub)."""
    labels = {"app": "jupyterhub", "component": "hub"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "hub", "namespace": namespace},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "containers": [{"name": "hub", "image": "jupyterhub/k8s-hub"}],
                         "volumes": [{"name": "pvc", "persistentVolumeClaim": {"claimName": claim_name}}]}}}}


def apply(config, *objects):
    kubectl(config, "apply", "-f", "-", stdin="\n---\n".join(json.dumps(o) for o in objects))


def get(config, *args):
    result = kubectl(config, "get", *args, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def events(stack, cluster, namespace, name="hub-db-dir"):
    store = stack.clusters.server(cluster).store
    found = store.list(store.resource_type("v1", "Event"), namespace)[0]
    return [(e["type"], e["reason"], e["message"]) for e in found if e["involvedObject"]["name"] == name]


def said(stack, cluster, namespace, reason, text, name="hub-db-dir"):
    """Wait for an event on the claim whose reason is ``reason`` and whose message contains ``text``."""
    return eventually(lambda: [e for e in events(stack, cluster, namespace, name) if e[1] == reason and text in e[2]])


def ready_replicas(config, namespace):
    return ((get(config, "deployment", "hub", "-n", namespace) or {}).get("status") or {}).get("readyReplicas", 0)


def volumes_for(stack, cluster, namespace):
    return stack.client("ec2").describe_volumes(Filters=[
        {"Name": f"tag:kubernetes.io/cluster/{cluster}", "Values": ["owned"]},
        {"Name": "tag:kubernetes.io/created-for/pvc/namespace", "Values": [namespace]}])["Volumes"]


def subnet_zone(stack, index):
    return stack.client("ec2").describe_subnets(SubnetIds=[stack.seeded.subnet_ids[index]])["Subnets"][0][
        "AvailabilityZone"]


@pytest.fixture
def fresh(stack, tmp_path):
    """A new ACTIVE cluster with one node (in the first subnet's zone) and a namespace: name, kubeconfig, namespace."""
    name, described = active_cluster(stack)
    config = kubeconfig(tmp_path, stack, described)
    add_nodegroup_in(stack, name, "workers", [stack.seeded.subnet_ids[0]], 1)
    namespace = f"hub-{uuid.uuid4().hex[:6]}"
    kubectl(config, "create", "namespace", namespace)
    return name, config, namespace


def add_nodegroup_in(stack, name, nodegroup, subnets, desired):
    eks = stack.client("eks")
    eks.create_nodegroup(clusterName=name, nodegroupName=nodegroup, subnets=subnets,
                         nodeRole=stack.seeded.roles["eks-node"], instanceTypes=["m5.large"],
                         scalingConfig={"minSize": 0, "maxSize": 3, "desiredSize": desired})
    stack.clock.advance(stack.config.eks.nodegroup_create)
    eventually(lambda: eks.describe_nodegroup(clusterName=name, nodegroupName=nodegroup)["nodegroup"]["status"]
               == "ACTIVE")


def test_without_the_addon_a_claim_without_a_class_stays_pending_and_its_hub_never_starts(stack, fresh):
    name, config, namespace = fresh
    apply(config, claim(namespace), hub(namespace))
    said(stack, name, namespace, "FailedBinding", NO_CLASS)
    stack.clock.advance(10 * stack.clusters.timings.workload_ready)
    assert get(config, "pvc", "hub-db-dir", "-n", namespace)["status"]["phase"] == "Pending"
    assert ready_replicas(config, namespace) == 0
    assert volumes_for(stack, name, namespace) == []


def test_a_named_class_that_does_not_exist_is_a_provisioning_failure(stack, fresh):
    name, config, namespace = fresh
    apply(config, claim(namespace, storage_class="gp3"))
    said(stack, name, namespace, "ProvisioningFailed", 'storageclass.storage.k8s.io "gp3" not found')


def test_an_ebs_class_without_the_driver_waits_for_the_external_provisioner(stack, fresh):
    name, config, namespace = fresh
    apply(config, {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": f"gp2-{namespace}"},
                   "provisioner": "kubernetes.io/aws-ebs", "volumeBindingMode": "Immediate"},
          claim(namespace, storage_class=f"gp2-{namespace}"))
    said(stack, name, namespace, "ExternalProvisioning",
         "Waiting for a volume to be created either by the external provisioner 'ebs.csi.aws.com'")


def test_without_pod_identity_the_driver_is_refused_by_ec2_until_the_association_exists(stack, fresh):
    name, config, namespace = fresh
    ebs_csi(stack, name, association=False)
    apply(config, claim(namespace), hub(namespace))
    pvc = get(config, "pvc", "hub-db-dir", "-n", namespace)
    said(stack, name, namespace, "ProvisioningFailed",
         'failed to provision volume with StorageClass "ebs-csi-default-sc": rpc error: code = Internal desc = '
         f'Could not create volume "pvc-{pvc["metadata"]["uid"]}": could not create volume in EC2: '
         "UnauthorizedOperation: You are not authorized to perform this operation.")
    assert get(config, "pvc", "hub-db-dir", "-n", namespace)["status"]["phase"] == "Pending"

    associate(stack, name, stack.seeded.roles["ebs-csi"])
    stack.clock.advance(300)  # the provisioner's longest backoff
    stack.clock.advance(stack.clusters.timings.volume_ready)
    eventually(lambda: get(config, "pvc", "hub-db-dir", "-n", namespace)["status"]["phase"] == "Bound")


def test_a_role_the_pods_cannot_assume_gives_no_credentials(stack, fresh):
    name, config, namespace = fresh
    iam = stack.client("iam")
    untrusting = iam.create_role(RoleName=f"ebs-{uuid.uuid4().hex[:6]}", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    ebs_csi(stack, name, role=untrusting)
    apply(config, claim(namespace), hub(namespace))
    said(stack, name, namespace, "ProvisioningFailed", f"get credentials: failed to refresh cached credentials, "
                                                       f"EKS Pod Identity could not assume {untrusting}")


def test_with_the_addon_the_claim_gets_the_default_class_and_a_tagged_volume_in_its_nodes_zone(stack, fresh):
    name, config, namespace = fresh
    ebs_csi(stack, name, extra_tags={"coursehub:hub": "hub-x"})
    apply(config, claim(namespace))
    said(stack, name, namespace, "WaitForFirstConsumer", "waiting for first consumer to be created before binding")
    assert get(config, "pvc", "hub-db-dir", "-n", namespace)["spec"]["storageClassName"] == "ebs-csi-default-sc"

    apply(config, hub(namespace))
    stack.clock.advance(stack.clusters.timings.volume_ready)
    bound = eventually(lambda: (pvc := get(config, "pvc", "hub-db-dir", "-n", namespace))["status"].get("phase")
                       == "Bound" and pvc)
    [node] = get(config, "nodes")["items"]
    assert bound["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == node["metadata"]["name"]
    [volume] = volumes_for(stack, name, namespace)
    tags = {t["Key"]: t["Value"] for t in volume["Tags"]}
    assert volume["Size"] == 2 and volume["VolumeType"] == "gp3"  # 1500Mi rounded up; the driver's default type
    assert volume["AvailabilityZone"] == node["metadata"]["labels"]["topology.kubernetes.io/zone"] \
        == subnet_zone(stack, 0)
    pv_name = bound["spec"]["volumeName"]
    assert tags == {"CSIVolumeName": pv_name, "ebs.csi.aws.com/cluster": "true",
                    "kubernetes.io/created-for/pvc/name": "hub-db-dir",
                    "kubernetes.io/created-for/pvc/namespace": namespace, "kubernetes.io/created-for/pv/name": pv_name,
                    f"kubernetes.io/cluster/{name}": "owned", "KubernetesCluster": name,
                    "Name": f"{name}-dynamic-{pv_name}", "coursehub:hub": "hub-x"}
    pv = get(config, "pv", pv_name)
    assert pv["spec"]["csi"] == {"driver": "ebs.csi.aws.com", "volumeHandle": volume["VolumeId"], "fsType": "ext4"}
    assert pv["spec"]["storageClassName"] == "ebs-csi-default-sc"
    assert bound["status"]["capacity"] == {"storage": "2Gi"}
    stack.clock.advance(stack.clusters.timings.workload_ready)
    eventually(lambda: ready_replicas(config, namespace) == 1)

    kubectl(config, "delete", "deployment", "hub", "-n", namespace)
    kubectl(config, "delete", "pvc", "hub-db-dir", "-n", namespace)
    eventually(lambda: volumes_for(stack, name, namespace) == [])
    assert get(config, "pv", pv_name) is None


def test_a_pod_cannot_run_in_another_zone_than_its_volume(stack, fresh):
    name, config, namespace = fresh
    ebs_csi(stack, name)
    apply(config, claim(namespace), hub(namespace))
    stack.clock.advance(stack.clusters.timings.volume_ready)
    eventually(lambda: get(config, "pvc", "hub-db-dir", "-n", namespace)["status"]["phase"] == "Bound")
    stack.clock.advance(stack.clusters.timings.workload_ready)
    eventually(lambda: ready_replicas(config, namespace) == 1)
    assert volumes_for(stack, name, namespace)[0]["AvailabilityZone"] == subnet_zone(stack, 0)

    add_nodegroup_in(stack, name, "other-zone", [stack.seeded.subnet_ids[1]], 1)  # a node in the second zone only
    eks = stack.client("eks")
    eks.update_nodegroup_config(clusterName=name, nodegroupName="workers",
                                scalingConfig={"minSize": 0, "maxSize": 3, "desiredSize": 0})
    stack.clock.advance(stack.config.eks.nodegroup_update)
    eventually(lambda: [n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in get(config, "nodes")["items"]]
               == [subnet_zone(stack, 1)])
    stack.clock.advance(stack.clusters.timings.workload_ready)
    eventually(lambda: ready_replicas(config, namespace) == 0)  # Ready nodes, none in the volume's zone


def test_deleting_the_namespace_deletes_its_claims_volumes(stack, fresh):
    name, config, namespace = fresh
    ebs_csi(stack, name)
    apply(config, claim(namespace, storage="10Gi"), hub(namespace))
    stack.clock.advance(stack.clusters.timings.volume_ready)
    [volume] = eventually(lambda: volumes_for(stack, name, namespace))
    assert volume["Size"] == 10
    kubectl(config, "delete", "namespace", namespace, "--wait=false")
    eventually(lambda: volumes_for(stack, name, namespace) == [])


@pytest.mark.parametrize("quantity, gib", [("1Gi", 1), ("1G", 1), ("1025Mi", 2), ("100Mi", 1), ("10Gi", 10),
                                            ("1Ti", 1024), (str(5 * 2**30), 5)])
def test_sizes_round_up_to_whole_gib(quantity, gib):
    assert size_in_gib(quantity) == gib

