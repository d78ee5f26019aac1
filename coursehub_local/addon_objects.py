"""What the EKS add-ons the local stack knows accept as configuration, and what they put into the cluster.

``aws-ebs-csi-driver`` is the aws-ebs-csi-driver Helm chart run by EKS. Its configuration schema is the chart's
``values.schema.json`` (kubernetes-sigs/aws-ebs-csi-driver ``charts/aws-ebs-csi-driver/values.schema.json``), of
which EKS exposes a part through ``DescribeAddonConfiguration`` (quoted in aws/amazon-vpc-cni-k8s #2272): JSON
Schema 2019-09, ``additionalProperties: false`` at the top and in ``controller``, ``extraVolumeTags`` keys and
values limited to ``[a-zA-Z0-9 _.:/=+\\-@]`` (1-128 and 0-256 characters). The part modelled here covers the keys
the project uses (``defaultStorageClass.enabled``, ``controller.k8sTagClusterId``, ``controller.extraVolumeTags``)
and the chart's other ``controller`` keys; ``node`` and ``sidecars`` are taken as any object. Its objects follow
the chart's templates: ``csidriver.yaml`` (CSIDriver ``ebs.csi.aws.com``), ``controller.yaml`` (Deployment
``ebs-csi-controller``, 2 replicas, service account ``ebs-csi-controller-sa``, the plugin's ``--k8s-tag-cluster-id``
and ``--extra-tags`` arguments and the provisioner's ``--extra-create-metadata``), ``node.yaml`` (DaemonSet
``ebs-csi-node``) and ``ebs-csi-default-sc.yaml`` (StorageClass ``ebs-csi-default-sc``: provisioner
``ebs.csi.aws.com``, ``WaitForFirstConsumer``, volume expansion, marked default; no ``type`` parameter, so the
driver's default type, gp3, applies).

``eks-pod-identity-agent`` runs the DaemonSet ``eks-pod-identity-agent`` in ``kube-system`` (EKS user guide,
pod-id-agent-setup); its configuration schema is not modelled (any JSON object is taken).

EKS accepts ``configurationValues`` as JSON or YAML (EKS user guide, add-ons-configuration) and answers
InvalidParameterException when they do not satisfy the schema; the message here names the offending path.
"""
from __future__ import annotations

from dataclasses import dataclass

_TAG = r"^[a-zA-Z0-9 _\.:\/=+\-@]*$"
EBS_CSI_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2019-09/schema",
    "type": "object",
    "additionalProperties": False,
    "$defs": {"extraVolumeTags": {
        "type": "object",
        "propertyNames": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": _TAG},
        "patternProperties": {"^.*$": {"type": "string", "minLength": 0, "maxLength": 256, "pattern": _TAG}},
    }},
    "properties": {
        "defaultStorageClass": {"type": "object", "additionalProperties": False,
                                "properties": {"enabled": {"type": "boolean"}}},
        "controller": {"type": "object", "additionalProperties": False, "properties": {
            "extraVolumeTags": {"$ref": "#/$defs/extraVolumeTags"},
            "k8sTagClusterId": {"type": ["string", "null"]},
            "additionalArgs": {"type": "array", "items": {"type": "string"}},
            "affinity": {"type": ["object", "null"]}, "batching": {"type": "boolean"},
            "enableMetrics": {"type": "boolean"}, "loggingFormat": {"enum": ["text", "json"]},
            "logLevel": {"type": "integer"}, "nodeSelector": {"type": ["object", "null"]},
            "podAnnotations": {"type": ["object", "null"]}, "podLabels": {"type": ["object", "null"]},
            "priorityClassName": {"type": "string"}, "replicaCount": {"type": "integer", "minimum": 1},
            "resources": {"type": ["object", "null"]}, "tolerations": {"type": "array", "items": {"type": "object"}},
            "topologySpreadConstraints": {"type": "array", "items": {"type": "object"}},
            "volumeModificationFeature": {"type": "object", "additionalProperties": False,
                                          "properties": {"enabled": {"type": "boolean"}}},
        }},
        "node": {"type": "object"},
        "sidecars": {"type": "object"},
        "storageClasses": {"type": "array"},
        "volumeSnapshotClasses": {"type": "array"},
        "customLabels": {"type": ["object", "null"]},
    },
}
DRIVER = "ebs.csi.aws.com"
CONTROLLER_ACCOUNT = ("kube-system", "ebs-csi-controller-sa")
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"


@dataclass(frozen=True)
class Addon:
    version: str  # what EKS picks when the request names none (a recent build)
    namespace: str
    schema: dict
    workload: tuple[str, str, str] | None  # (kind, namespace, name) whose readiness is the add-on's health


CATALOGUE = {
    "aws-ebs-csi-driver": Addon("v1.47.0-eksbuild.1", "kube-system", EBS_CSI_SCHEMA,
                                ("Deployment", "kube-system", "ebs-csi-controller")),
    "eks-pod-identity-agent": Addon("v1.3.8-eksbuild.2", "kube-system", {"type": "object"},
                                    ("DaemonSet", "kube-system", "eks-pod-identity-agent")),
}


class InvalidConfiguration(ValueError):
    """The configuration values are not an object the add-on's schema allows."""


def configuration(addon: str, values: str | None) -> dict:
    """The parsed, validated ``configurationValues`` (``{}`` when none are given)."""
    import jsonschema
    import yaml

    if not values:
        return {}
    try:
        parsed = yaml.safe_load(values)  # JSON is YAML too
    except yaml.YAMLError as error:
        raise InvalidConfiguration(f"ConfigurationValue provided in request is not valid JSON or YAML: {error}")
    if not isinstance(parsed, dict):
        raise InvalidConfiguration("ConfigurationValue provided in request is not supported: it must be an object")
    errors = sorted(jsonschema.Draft201909Validator(CATALOGUE[addon].schema).iter_errors(parsed), key=str)
    if errors:
        first = errors[0]
        where = "$" + "".join(f".{p}" if isinstance(p, str) else f"[{p}]" for p in first.absolute_path)
        if first.validator == "additionalProperties":
            extra = sorted(set(first.instance) - set(first.schema.get("properties", {})))
            detail = f"{where}.{extra[0]}: is not defined in the schema and the schema does not allow additional " \
                     f"properties"
        else:
            detail = f"{where}: {first.message}"
        raise InvalidConfiguration("ConfigurationValue provided in request is not supported: Json schema validation "
                                   f"failed with error: [{detail}]")
    return parsed


def objects_of(addon: str, version: str, config: dict) -> list[dict]:
    """The Kubernetes objects the add-on installs with this configuration."""
    labels = {"app.kubernetes.io/managed-by": "EKS", "app.kubernetes.io/name": addon,
              "app.kubernetes.io/version": version}
    if addon == "eks-pod-identity-agent":
        return [_workload("DaemonSet", "eks-pod-identity-agent", labels, "eks-pod-identity-agent", [])]
    controller = config.get("controller") or {}
    args = ["controller", "--endpoint=$(CSI_ENDPOINT)"]
    if controller.get("extraVolumeTags"):
        args.append("--extra-tags=" + ",".join(f"{k}={v}" for k, v in controller["extraVolumeTags"].items()))
    if controller.get("k8sTagClusterId"):
        args.append(f"--k8s-tag-cluster-id={controller['k8sTagClusterId']}")
    deployment = _workload("Deployment", "ebs-csi-controller", labels, CONTROLLER_ACCOUNT[1], args,
                           provisioner=["--csi-address=$(ADDRESS)", "--feature-gates=Topology=true",
                                        "--extra-create-metadata", "--leader-election=true", "--default-fstype=ext4"])
    deployment["spec"]["replicas"] = controller.get("replicaCount", 2)
    objects = [
        {"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": {"name": DRIVER, "labels": labels},
         "spec": {"attachRequired": True, "podInfoOnMount": False, "fsGroupPolicy": "File"}},
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": CONTROLLER_ACCOUNT[1], "namespace": CONTROLLER_ACCOUNT[0], "labels": labels}},
        deployment,
        _workload("DaemonSet", "ebs-csi-node", labels, "ebs-csi-node-sa", ["node", "--endpoint=$(CSI_ENDPOINT)"]),
    ]
    if (config.get("defaultStorageClass") or {}).get("enabled"):
        objects.append({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                        "metadata": {"name": "ebs-csi-default-sc", "labels": labels,
                                     "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}},
                        "provisioner": DRIVER, "volumeBindingMode": "WaitForFirstConsumer",
                        "allowVolumeExpansion": True, "reclaimPolicy": "Delete"})
    return objects


def _workload(kind: str, name: str, labels: dict, account: str, args: list[str],
              provisioner: list[str] | None = None) -> dict:
    containers = [{"name": "ebs-plugin" if name.startswith("ebs") else name, "image": f"eks/{name}", "args": args}]
    if provisioner:
        containers.append({"name": "csi-provisioner", "image": "eks/csi-provisioner", "args": provisioner})
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "namespace": "kube-system",
                                                                 "labels": labels},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name, **labels}},
                                  "spec": {"serviceAccountName": account, "containers": containers}}}}


def controller_settings(deployment: dict) -> tuple[str | None, dict[str, str]]:
    """The cluster id and extra tags the running EBS CSI controller was started with (its plugin's arguments)."""
    containers = deployment["spec"]["template"]["spec"]["containers"]
    args = next((c.get("args") or [] for c in containers if c["name"] == "ebs-plugin"), [])
    cluster_id, extra = None, {}
    for arg in args:
        if arg.startswith("--k8s-tag-cluster-id="):
            cluster_id = arg.split("=", 1)[1]
        elif arg.startswith("--extra-tags="):
            extra = dict(pair.split("=", 1) for pair in arg.split("=", 1)[1].split(",") if pair)
    return cluster_id, extra
