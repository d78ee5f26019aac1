"""A PersistentVolumeClaim gets a tagged EBS volume and a bound PersistentVolume, and loses both with the claim."""
import json
import uuid

import pytest

from coursehub_local.cluster.volumes import size_in_gib
from tests.conftest import eventually
from tests.local.cluster.test_cluster_api import active_cluster, kubeconfig, kubectl


@pytest.fixture(scope="module")
def cluster(stack, tmp_path_factory):
    name, described = active_cluster(stack)
    return name, kubeconfig(tmp_path_factory.mktemp("pvc"), stack, described)


def claim(namespace, name="hub-db-dir", storage="1500Mi"):
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": namespace},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}}}


def get(config, *args):
    result = kubectl(config, "get", *args, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def volumes_for(stack, cluster, namespace):
    return stack.client("ec2").describe_volumes(Filters=[
        {"Name": f"tag:kubernetes.io/cluster/{cluster}", "Values": ["owned"]},
        {"Name": "tag:kubernetes.io/created-for/pvc/namespace", "Values": [namespace]}])["Volumes"]


def test_a_claim_is_bound_to_a_tagged_ebs_volume_that_goes_with_it(stack, cluster):
    name, config = cluster
    namespace = f"pvc-{uuid.uuid4().hex[:6]}"
    kubectl(config, "create", "namespace", namespace)
    kubectl(config, "apply", "-f", "-", stdin=json.dumps(claim(namespace)))
    # Pending for volume_ready simulated seconds: too short at this time scale to catch reliably.
    stack.clock.advance(stack.clusters.timings.volume_ready)
    bound = eventually(lambda: (pvc := get(config, "pvc", "hub-db-dir", "-n", namespace))["status"].get("phase")
                       == "Bound" and pvc)
    [volume] = volumes_for(stack, name, namespace)
    tags = {t["Key"]: t["Value"] for t in volume["Tags"]}
    assert volume["Size"] == 2  # 1500Mi rounded up
    assert volume["AvailabilityZone"] == stack.client("ec2").describe_subnets(
        SubnetIds=stack.seeded.subnet_ids[:1])["Subnets"][0]["AvailabilityZone"]  # no nodes: the first subnet's
    assert tags["kubernetes.io/created-for/pvc/name"] == "hub-db-dir"
    assert tags["ebs.csi.aws.com/cluster"] == "true"
    pv = get(config, "pv", bound["spec"]["volumeName"])
    assert pv["spec"]["csi"] == {"driver": "ebs.csi.aws.com", "volumeHandle": volume["VolumeId"], "fsType": "ext4"}
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert pv["spec"]["claimRef"]["uid"] == bound["metadata"]["uid"]
    assert bound["status"]["capacity"] == {"storage": "2Gi"}

    kubectl(config, "delete", "pvc", "hub-db-dir", "-n", namespace)
    eventually(lambda: volumes_for(stack, name, namespace) == [])
    assert get(config, "pv", pv["metadata"]["name"]) is None


def test_deleting_the_namespace_deletes_its_claims_volumes(stack, cluster):
    name, config = cluster
    namespace = f"pvc-{uuid.uuid4().hex[:6]}"
    kubectl(config, "create", "namespace", namespace)
    kubectl(config, "apply", "-f", "-", stdin=json.dumps(claim(namespace, storage="10Gi")))
    stack.clock.advance(stack.clusters.timings.volume_ready)
    [volume] = eventually(lambda: volumes_for(stack, name, namespace))
    assert volume["Size"] == 10
    kubectl(config, "delete", "namespace", namespace, "--wait=false")
    eventually(lambda: volumes_for(stack, name, namespace) == [])


@pytest.mark.parametrize("quantity, gib", [("1Gi", 1), ("1G", 1), ("1025Mi", 2), ("100Mi", 1), ("10Gi", 10),
                                            ("1Ti", 1024), (str(5 * 2**30), 5)])
def test_sizes_round_up_to_whole_gib(quantity, gib):
    assert size_in_gib(quantity) == gib
