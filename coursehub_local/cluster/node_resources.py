"""What a node offers pods and what is already placed on it: EKS node allocatable and kube-scheduler's memory fit.

Allocatable follows the EKS-optimized AMI (awslabs/amazon-eks-ami ``nodeadm/internal/kubelet``): max pods is
``default ENIs * (IPv4 addresses per ENI - 1) + 2`` (``eni_max_pods.go`` ``calculateStandardMaxPods``, the formula
behind ``eni-max-pods.txt``), kube-reserved memory ``11 MiB * max pods + 255 MiB`` (``config.go``
``getMemoryMebibytesToReserve``), kube-reserved CPU 6% of the first core, 1% of the second, 0.5% of the next two and
0.25% of the rest (``getCPUMillicoresToReserve``), and eviction-hard ``memory.available`` 100Mi (``config.go``); no
system-reserved. Allocatable = capacity - kube-reserved - eviction-hard (Kubernetes "Reserve Compute Resources for
System Daemons"). Simplified: capacity memory is the instance type's nominal memory (the kernel's MemTotal that a
kubelet reports is a little lower).

The fit is kube-scheduler's NodeResourcesFit filter for memory: a pod fits a Ready node whose allocatable memory
minus the requests of the pods already on it covers the pod's request. Pods placed: bare Pods bound to a node
(``spec.nodeName``), DaemonSet pods on every Ready node, and each Deployment/StatefulSet replica on the Ready node
with the most free memory (the default LeastAllocated score) if it fits there. Simplified: replicas are placed
afresh at each look, and Job pods and CPU are not counted.
"""
from __future__ import annotations

import re

MIB = 1024 ** 2
EVICTION_HARD_MEMORY_MIB = 100
QUANTITY = re.compile(r"^([0-9.]+(?:[eE][0-9]+)?)([a-zA-Z]*)$")
# Kubernetes resource.Quantity suffixes (apimachinery pkg/api/resource/suffix.go)
SUFFIXES = {"": 1, "k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15, "E": 10 ** 18,
            "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60, "m": 0.001}


def max_pods(instance_type: dict) -> int:
    """EKS AMI max pods of an EC2 DescribeInstanceTypes entry."""
    network = instance_type["NetworkInfo"]
    cards = {c.get("NetworkCardIndex"): c for c in network.get("NetworkCards") or []}
    default = cards.get(network.get("DefaultNetworkCardIndex", 0), {})
    enis = default.get("MaximumNetworkInterfaces", network["MaximumNetworkInterfaces"])
    return enis * (network["Ipv4AddressesPerInterface"] - 1) + 2


def kube_reserved_memory_mib(pods: int) -> int:
    """``getMemoryMebibytesToReserve``: 11 MiB per pod plus 255 MiB."""
    return 11 * pods + 255


def kube_reserved_cpu_millicores(vcpus: int) -> int:
    """``getCPUMillicoresToReserve``: 6%, 1%, 0.5%, 0.5% of the first four cores, 0.25% of the rest."""
    total = vcpus * 1000
    bounds, per_10000 = [0, 1000, 2000, 4000, total], [600, 100, 50, 25]
    return sum((min(total, bounds[i + 1]) - bounds[i]) * per_10000[i] // 10000
               for i in range(4) if total > bounds[i])


def node_resources(instance_type: dict) -> dict:
    """The Node ``status.capacity`` and ``status.allocatable`` of an instance type, as the EKS AMI's kubelet sets."""
    memory = instance_type["MemoryInfo"]["SizeInMiB"]
    vcpus = instance_type["VCpuInfo"]["DefaultVCpus"]
    pods = max_pods(instance_type)
    allocatable_memory = memory - kube_reserved_memory_mib(pods) - EVICTION_HARD_MEMORY_MIB
    return {"capacity": {"cpu": str(vcpus), "memory": f"{memory}Mi", "pods": str(pods)},
            "allocatable": {"cpu": f"{vcpus * 1000 - kube_reserved_cpu_millicores(vcpus)}m",
                            "memory": f"{allocatable_memory}Mi", "pods": str(pods)}}


def quantity(value) -> float:
    """A Kubernetes quantity (``512Mi``, ``1G``, ``1073741824``) as a number."""
    match = QUANTITY.match(str(value).strip())
    if not match or match.group(2) not in SUFFIXES:
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    return float(match.group(1)) * SUFFIXES[match.group(2)]


def pod_memory_request(pod_spec: dict) -> float:
    """The pod's effective memory request: the larger of its containers' sum and its largest init container
    (Kubernetes "Resource sharing within containers"); a request defaults to the limit when only that is set."""
    def request(container: dict) -> float:
        resources = container.get("resources") or {}
        value = (resources.get("requests") or {}).get("memory") or (resources.get("limits") or {}).get("memory")
        return quantity(value) if value else 0.0
    main = sum(request(c) for c in pod_spec.get("containers") or [])
    return max([main] + [request(c) for c in pod_spec.get("initContainers") or []])


def _ready(node: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions", []))


def free_memory(store) -> dict[str, float]:
    """Ready node name -> allocatable memory not yet requested by the pods placed on it."""
    nodes = [n for n in store.list(store.resource_type("v1", "Node"))[0] if _ready(n)]
    free = {n["metadata"]["name"]: quantity(((n.get("status") or {}).get("allocatable") or {}).get("memory", "0"))
            for n in nodes}
    for daemonset in store.list(store.resource_type("apps/v1", "DaemonSet"))[0]:
        need = pod_memory_request(((daemonset.get("spec") or {}).get("template") or {}).get("spec") or {})
        for name in free:
            free[name] -= need
    for pod in store.list(store.resource_type("v1", "Pod"))[0]:
        node = (pod.get("spec") or {}).get("nodeName")
        if node in free and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
            free[node] -= pod_memory_request(pod["spec"])
    workloads = [w for kind in ("Deployment", "StatefulSet")
                 for w in store.list(store.resource_type("apps/v1", kind))[0]]
    for workload in sorted(workloads, key=lambda w: (w["metadata"].get("creationTimestamp", ""),
                                                     w["metadata"].get("namespace", ""), w["metadata"]["name"])):
        spec = workload.get("spec") or {}
        need = pod_memory_request((spec.get("template") or {}).get("spec") or {})
        for _ in range(spec.get("replicas", 1) if spec.get("replicas") is not None else 1):
            best = max(free, key=lambda name: free[name], default=None)
            if best is not None and free[best] >= need:
                free[best] -= need
    return free


def schedule_memory(store, request: float) -> tuple[str | None, str]:
    """The node a pod requesting ``request`` bytes of memory is bound to, or None and the scheduler's message.

    The message is kube-scheduler's FailedScheduling text (pkg/scheduler/framework ``FitError.Error``:
    ``0/N nodes are available: <count> <reason>, ...``; NodeResourcesFit's reason ``Insufficient memory``; a node
    that is not Ready keeps its ``node.kubernetes.io/not-ready`` taint; then the preemption plugin's summary).
    """
    nodes = store.list(store.resource_type("v1", "Node"))[0]
    if not nodes:
        return None, "no nodes available to schedule pods"
    free = free_memory(store)
    fitting = [name for name, left in free.items() if left >= request]
    if fitting:
        return max(fitting, key=lambda name: free[name]), ""
    reasons: dict[str, int] = {}
    for node in nodes:
        reason = "Insufficient memory" if _ready(node) else \
            "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"
        reasons[reason] = reasons.get(reason, 0) + 1
    total = len(nodes)
    summary = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
    return None, (f"0/{total} nodes are available: {summary}. preemption: 0/{total} nodes are available: "
                  f"{total} No preemption victims found for incoming pod.")
