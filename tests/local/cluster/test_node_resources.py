"""EKS node allocatable from the instance type, and kube-scheduler's memory fit (no cluster needed)."""
import pytest

from coursehub_local.cluster import node_resources
from coursehub_local.kube.store import ObjectStore

# Entries of EC2 DescribeInstanceTypes as moto's data holds them (the fields the formulas read).
M5_LARGE = {"InstanceType": "m5.large", "MemoryInfo": {"SizeInMiB": 8192}, "VCpuInfo": {"DefaultVCpus": 2},
            "NetworkInfo": {"MaximumNetworkInterfaces": 3, "Ipv4AddressesPerInterface": 10,
                            "DefaultNetworkCardIndex": 0,
                            "NetworkCards": [{"NetworkCardIndex": 0, "MaximumNetworkInterfaces": 3}]}}
T3_MEDIUM = {"InstanceType": "t3.medium", "MemoryInfo": {"SizeInMiB": 4096}, "VCpuInfo": {"DefaultVCpus": 2},
             "NetworkInfo": {"MaximumNetworkInterfaces": 3, "Ipv4AddressesPerInterface": 6}}


def test_max_pods_and_allocatable_follow_the_eks_ami_formulas():
    # eni-max-pods.txt: m5.large 29, t3.medium 17
    assert node_resources.max_pods(M5_LARGE) == 29 and node_resources.max_pods(T3_MEDIUM) == 17
    assert node_resources.kube_reserved_memory_mib(29) == 574
    # 6% of the first core + 1% of the second
    assert node_resources.kube_reserved_cpu_millicores(2) == 70
    assert node_resources.kube_reserved_cpu_millicores(8) == 60 + 10 + 10 + 10
    assert node_resources.node_resources(M5_LARGE) == {
        "capacity": {"cpu": "2", "memory": "8192Mi", "pods": "29"},
        "allocatable": {"cpu": "1930m", "memory": f"{8192 - 574 - 100}Mi", "pods": "29"}}


def test_quantities_and_a_pods_effective_request():
    assert node_resources.quantity("512Mi") == 512 * 2 ** 20
    assert node_resources.quantity("1G") == 10 ** 9
    assert node_resources.quantity("1073741824") == 2 ** 30
    with pytest.raises(ValueError):
        node_resources.quantity("lots")
    spec = {"containers": [{"resources": {"requests": {"memory": "1Gi"}}},
                           {"resources": {"limits": {"memory": "1Gi"}}}],
            "initContainers": [{"resources": {"requests": {"memory": "3Gi"}}}]}
    assert node_resources.pod_memory_request(spec) == 3 * 2 ** 30


def node(name, memory="7518Mi", ready=True):
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"allocatable": {"memory": memory},
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def workload(kind, name, memory, replicas=1):
    spec = {"selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "c", "image": "i",
                                                  "resources": {"requests": {"memory": memory}}}]}}}
    if kind != "DaemonSet":
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "namespace": "default"}, "spec": spec}


def test_a_pod_fits_only_where_allocatable_minus_placed_requests_covers_it():
    store = ObjectStore()
    store.put_object(node("a", "4Gi"))
    store.put_object(workload("DaemonSet", "ds", "1Gi"))
    store.put_object(workload("Deployment", "hub", "2Gi"))
    assert node_resources.free_memory(store) == {"a": 1 * 2 ** 30}
    assert node_resources.schedule_memory(store, 2 ** 30) == ("a", "")
    assert node_resources.schedule_memory(store, 2 ** 30 + 1) == (None, (
        "0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 nodes are available: 1 No preemption "
        "victims found for incoming pod."))

    store.put_object(node("b", "4Gi", ready=False))
    assert node_resources.schedule_memory(store, 2 * 2 ** 30)[1].startswith(
        "0/2 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint "
        "{node.kubernetes.io/not-ready: }.")
