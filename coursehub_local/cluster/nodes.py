"""Nodes follow the cluster's node groups: one EC2 instance and one Node per desired instance.

Instances carry the cluster security group, as a managed node group's do (without a launch template
naming others), and are terminated when their node group scales down or goes away.
"""
from __future__ import annotations

import logging

from coursehub_local.cluster.context import ClusterContext
from coursehub_local.cluster.node_resources import node_resources
from coursehub_local.kube.errors import ApiError

log = logging.getLogger(__name__)
KUBELET_VERSION = "v1.33.5-eks-local"


class NodeController:
    """Launches and terminates instances in moto EC2 and keeps the Node objects in step."""

    def __init__(self, ctx: ClusterContext):
        self.ctx = ctx
        self._ec2 = None  # made at the first sync: a new boto3 client loads EC2's whole model again
        self._instance_types: dict[str, dict] = {}  # DescribeInstanceTypes entries, by name

    def sync(self) -> None:
        """Make instances and Nodes match each node group's desired size."""
        if self._ec2 is None:
            self._ec2 = self.ctx.client("ec2")
        ec2 = self._ec2
        for nodegroup in list(self.ctx.cluster.nodegroups.values()):
            want = 0 if nodegroup.status in ("CREATING", "DELETING") else nodegroup.scaling_config.get("desiredSize", 0)
            running = self._instances(ec2, nodegroup.nodegroup_name)
            if len(running) < want:
                running += self._launch(ec2, nodegroup, want - len(running))
            elif len(running) > want:
                surplus, running = running[want:], running[:want]
                ec2.terminate_instances(InstanceIds=[i["InstanceId"] for i in surplus])
        self._gone_nodegroups(ec2)
        self._reconcile_nodes(ec2)

    def ready_nodes(self) -> int:
        """Nodes whose Ready condition is True."""
        nodes = self.ctx.store.list(self.ctx.store.resource_type("v1", "Node"))[0]
        return sum(any(c["type"] == "Ready" and c["status"] == "True"
                       for c in n.get("status", {}).get("conditions", []))
                   for n in nodes)

    def _instances(self, ec2, nodegroup: str | None = None) -> list[dict]:
        return cluster_instances(ec2, self.ctx.name, ("pending", "running"), nodegroup)

    def _launch(self, ec2, nodegroup, count: int) -> list[dict]:
        # A managed node group runs the EKS-optimized AMI; asking only for it also spares listing moto's ~1300.
        images = ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "name", "Values": ["amazon-eks-node-*"]}])
        image = (images["Images"] or ec2.describe_images(Owners=["amazon"])["Images"])[0]["ImageId"]
        tags = {"eks:cluster-name": self.ctx.name, "eks:nodegroup-name": nodegroup.nodegroup_name,
                f"kubernetes.io/cluster/{self.ctx.name}": "owned"}
        groups = [g for g in [self.ctx.cluster.resources_vpc_config.get("clusterSecurityGroupId")] if g]
        launched = ec2.run_instances(
            ImageId=image, MinCount=count, MaxCount=count, InstanceType=nodegroup.instance_types[0],
            SecurityGroupIds=groups,
            # EC2 deletes a primary interface with its instance; moto only does when told so.
            NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": nodegroup.subnets[0], "Groups": groups,
                                "DeleteOnTermination": True}],
            TagSpecifications=[{"ResourceType": "instance", "Tags": tag_list(tags)}])
        return launched["Instances"]

    def _gone_nodegroups(self, ec2) -> None:
        known = set(self.ctx.cluster.nodegroups)
        orphans = [i["InstanceId"] for i in self._instances(ec2)
                   if _tag(i, "eks:nodegroup-name") not in known]
        if orphans:
            ec2.terminate_instances(InstanceIds=orphans)

    def _reconcile_nodes(self, ec2) -> None:
        store = self.ctx.store
        node_type = store.resource_type("v1", "Node")
        instances = {i["PrivateDnsName"]: i for i in self._instances(ec2)}
        for node in store.list(node_type)[0]:
            if node["metadata"]["name"] not in instances:
                try:
                    store.delete(node_type, None, node["metadata"]["name"])
                except ApiError:
                    pass
        for name, instance in instances.items():
            store.put_object(_node(name, instance, self._instance_type(ec2, instance["InstanceType"])))

    def _instance_type(self, ec2, name: str) -> dict:
        """The instance type's memory, vCPUs and network limits (EC2 DescribeInstanceTypes), asked once."""
        if name not in self._instance_types:
            self._instance_types[name] = ec2.describe_instance_types(InstanceTypes=[name])["InstanceTypes"][0]
        return self._instance_types[name]


def cluster_instances(ec2, cluster: str, states: tuple[str, ...], nodegroup: str | None = None) -> list[dict]:
    """The cluster's node instances in the given states (of one node group if named), by instance id."""
    filters = [{"Name": "tag:eks:cluster-name", "Values": [cluster]},
               {"Name": "instance-state-name", "Values": list(states)}]
    if nodegroup:
        filters.append({"Name": "tag:eks:nodegroup-name", "Values": [nodegroup]})
    reservations = ec2.describe_instances(Filters=filters)["Reservations"]
    return sorted((i for r in reservations for i in r["Instances"]), key=lambda i: i["InstanceId"])


def tag_list(tags: dict[str, str]) -> list[dict]:
    """AWS's ``[{"Key": ..., "Value": ...}]`` form of a tag dict."""
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _tag(instance: dict, key: str) -> str | None:
    return next((t["Value"] for t in instance.get("Tags", []) if t["Key"] == key), None)


def _node(name: str, instance: dict, instance_type: dict) -> dict:
    zone = instance["Placement"]["AvailabilityZone"]
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name,
            "node.kubernetes.io/instance-type": instance["InstanceType"],
            "topology.kubernetes.io/zone": zone,
            "eks.amazonaws.com/nodegroup": _tag(instance, "eks:nodegroup-name") or "",
        }},
        "spec": {"providerID": f"aws:///{zone}/{instance['InstanceId']}"},
        "status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "kubelet is posting ready status"}],
            "addresses": [{"type": "InternalIP", "address": instance.get("PrivateIpAddress", "")},
                          {"type": "Hostname", "address": name}],
            **node_resources(instance_type),  # what the EKS AMI's kubelet reports for this instance type
            "nodeInfo": {"kubeletVersion": KUBELET_VERSION, "containerRuntimeVersion": "containerd://1.7.27",
                         "operatingSystem": "linux", "architecture": "amd64"},
        },
    }


class NodeFollower:
    """A controller that reacts to the store's events and to node changes; ``start()`` subscribes it."""

    def __init__(self, ctx: ClusterContext, nodes: NodeController):
        self.ctx = ctx
        self.nodes = nodes
        self._unsubscribe = None

    def start(self) -> None:
        self._unsubscribe = self.ctx.store.subscribe(self._on_event)

    def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()

    def _on_event(self, event) -> None:
        raise NotImplementedError
