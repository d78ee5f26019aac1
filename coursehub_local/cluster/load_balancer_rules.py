"""What the AWS cloud provider computes from a Service of type LoadBalancer (pure functions).

From kubernetes/cloud-provider-aws (``pkg/providers/v1/aws.go`` EnsureLoadBalancer, ``aws_loadbalancer.go``):

- The load balancer is named ``"a" + uid without dashes`` (32 characters, cloudprovider.DefaultLoadBalancerName);
  a classic ELB has one TCP listener ``port -> nodePort`` per Service port in order.
- The health check, as ``ensureLoadBalancerHealthCheck`` sets it: the port is the NodePort of the
  FIRST Service port (``tcpHealthCheckPort``), the protocol TCP (SSL when
  ``aws-load-balancer-backend-protocol`` is https/ssl); an ``externalTrafficPolicy: Local`` Service
  gets ``HTTP:<healthCheckNodePort>/healthz``. Then the annotations ``...-healthcheck-protocol``
  replaces the protocol, ``...-healthcheck-port`` the port (``traffic-port`` keeps it), HTTP/HTTPS get
  the path ``...-healthcheck-path`` (default ``/``) and other protocols no path; Target is
  ``PROTOCOL:PORT[PATH]``. Thresholds/timeout/interval come from their annotations, defaulting to
  2 / 6 / 5 / 10 (``defaultElbHC*``). So a Service whose first port is 443 is checked on 443's
  NodePort (z2jh issue #1637).
- An NLB target group's health check uses the same annotations with ``traffic-port`` meaning the group's
  own NodePort; defaults 30 s / 3 / 3 (``defaultNlbHealthCheck*``) for ``nlb`` and 10 s / 3 / 3 (the
  controller's documented defaults) for ``external``.
- ``aws-load-balancer-additional-resource-tags`` (``additional_tags``) adds tags to the load balancer, its security
  group (``buildELBSecurityGroupList`` passes them to ``ensureSecurityGroup``) and an NLB's target groups
  (``ensureLoadBalancerv2`` hands its tags to ``ensureTargetGroup``); the provider's own tags win over them
  (``tags[TagNameKubernetesService] = ...; c.tagging.buildTags(ResourceLifecycleOwned, tags)``).
"""
from __future__ import annotations

import hashlib
import re

from coursehub_local.cluster.services import service_key

ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-"
TRAFFIC_PORT = "traffic-port"
ELB_HC_DEFAULTS = {"healthy-threshold": 2, "unhealthy-threshold": 6, "timeout": 5, "interval": 10}
NLB_HC_DEFAULTS = {"healthy-threshold": 3, "unhealthy-threshold": 3, "timeout": 10, "interval": 30}
LBC_HC_DEFAULTS = {"healthy-threshold": 3, "unhealthy-threshold": 3, "timeout": 10, "interval": 10}


def additional_tags(service: dict) -> dict[str, str]:
    """The annotation's tags, read as ``getKeyValuePropertiesFromAnnotation`` (cloud-provider-aws ``aws.go``) does.

    Pairs split on ``,`` and each pair on every ``=``: ``K=V K1=V2`` is ``K: "V K1"`` (the rest is dropped), a bare
    ``Key`` has an empty value, and a pair with an empty key is skipped (the upstream test
    ``TestGetKeyValuePropertiesFromAnnotation``).
    """
    found: dict[str, str] = {}
    for pair in _annotations(service).get(ANNOTATION + "additional-resource-tags", "").strip().split(","):
        parts = pair.strip().split("=")
        if parts[0]:
            found[parts[0]] = parts[1] if len(parts) >= 2 else ""
    return found


def load_balancer_name(service: dict) -> str:
    """cloudprovider.DefaultLoadBalancerName: "a" + the uid without dashes, cut to 32 characters."""
    return ("a" + service["metadata"]["uid"].replace("-", ""))[:32]


def is_nlb(service: dict) -> bool:
    """``nlb`` is the in-tree NLB; ``external`` (with ``nlb-target-type``) is the AWS Load Balancer Controller's."""
    return _annotations(service).get(ANNOTATION + "type") in ("nlb", "external")


def is_external(service: dict) -> bool:
    """Whether the AWS Load Balancer Controller, not the cloud provider, makes this Service's load balancer."""
    return _annotations(service).get(ANNOTATION + "type") == "external"


def cleanup_finalizer(service: dict) -> str:
    """The finalizer that keeps a deleted Service until its load balancer is gone (the service controller's,
    Kubernetes >= 1.16, or the Load Balancer Controller's)."""
    return "service.k8s.aws/resources" if is_external(service) else "service.kubernetes.io/load-balancer-cleanup"


def nlb_scheme(service: dict) -> str:
    """In-tree: internet-facing unless ``-internal``; the Load Balancer Controller: ``-scheme``, default internal."""
    notes = _annotations(service)
    if notes.get(ANNOTATION + "type") == "external":
        return notes.get(ANNOTATION + "scheme", "internal")
    return "internal" if notes.get(ANNOTATION + "internal", "false") != "false" else "internet-facing"


def classic_listeners(service: dict) -> list[dict]:
    """One listener per TCP port with a NodePort, in the Service's order (buildListener)."""
    backend = _annotations(service).get(ANNOTATION + "backend-protocol", "").lower()
    protocol = "HTTP" if backend == "http" else "TCP"
    return [{"Protocol": protocol, "LoadBalancerPort": p["port"], "InstanceProtocol": protocol,
             "InstancePort": p["nodePort"]}
            for p in service["spec"].get("ports") or [] if p.get("nodePort") and p.get("protocol", "TCP") == "TCP"]


def classic_health_check(service: dict) -> dict:
    """The HealthCheck EnsureLoadBalancer + ensureLoadBalancerHealthCheck configure on a classic ELB."""
    notes, spec = _annotations(service), service["spec"]
    listeners = classic_listeners(service)
    port, path = listeners[0]["InstancePort"], ""  # "We only configure a TCP health-check on the first port"
    if spec.get("externalTrafficPolicy") == "Local" and spec.get("healthCheckNodePort"):
        protocol, path = "HTTP", "/healthz"
        if notes.get(ANNOTATION + "healthcheck-port") != TRAFFIC_PORT:
            port = spec["healthCheckNodePort"]
    else:
        backend = notes.get(ANNOTATION + "backend-protocol", "").lower()
        protocol = "SSL" if backend in ("https", "ssl") else "TCP"
    protocol = notes.get(ANNOTATION + "healthcheck-protocol", protocol)
    if notes.get(ANNOTATION + "healthcheck-port", TRAFFIC_PORT) != TRAFFIC_PORT:
        port = int(notes[ANNOTATION + "healthcheck-port"])
    if protocol.upper() in ("HTTP", "HTTPS"):
        path = notes.get(ANNOTATION + "healthcheck-path") or path or "/"
    else:
        path = ""
    # The provider sends the annotation's spelling; AWS (and moto, which insists) use upper case.
    numbers = _hc_numbers(notes, ELB_HC_DEFAULTS)
    return {"Target": f"{protocol.upper()}:{port}{path}", "Interval": numbers["interval"],
            "Timeout": numbers["timeout"], "UnhealthyThreshold": numbers["unhealthy-threshold"],
            "HealthyThreshold": numbers["healthy-threshold"]}


def nlb_health_check(service: dict) -> dict:
    """buildNLBHealthCheckConfiguration (or the Load Balancer Controller's defaults for ``external``)."""
    notes = _annotations(service)
    external = notes.get(ANNOTATION + "type") == "external"
    health = {"port": TRAFFIC_PORT, "path": "/", "protocol": "TCP",
              **_hc_numbers(notes, LBC_HC_DEFAULTS if external else NLB_HC_DEFAULTS)}
    spec = service["spec"]
    if spec.get("externalTrafficPolicy") == "Local" and spec.get("healthCheckNodePort") and not external:
        health.update(port=str(spec["healthCheckNodePort"]), path="/healthz", protocol="HTTP",
                      **_hc_numbers(notes, {"interval": 10, "timeout": 10, "healthy-threshold": 2,
                                           "unhealthy-threshold": 2}))
    health["protocol"] = notes.get(ANNOTATION + "healthcheck-protocol", health["protocol"]).upper()
    if health["protocol"] not in ("TCP", "HTTP", "HTTPS"):
        raise ValueError(f"Unsupported health check protocol {health['protocol']}")
    health["path"] = notes.get(ANNOTATION + "healthcheck-path", health["path"]) if health["protocol"] != "TCP" else ""
    health["port"] = notes.get(ANNOTATION + "healthcheck-port", health["port"])
    if health["port"] != TRAFFIC_PORT:
        int(health["port"])  # "Invalid health check port"
    return health


def target_group_name(cluster: str, service: dict, port: dict, health: dict) -> str:
    """buildTargetGroupName: k8s-{namespace:8}-{name:8}-{sha1 of what cannot change in place:10}."""
    namespace, name = service_key(service)
    digest = hashlib.sha1()
    for part in (cluster, namespace, name, str(port["port"]), str(port["nodePort"]), port.get("protocol", "TCP"),
                 "instance", health["protocol"], str(health["interval"])):
        digest.update(part.encode())
    clean = lambda text: re.sub(r"[^A-Za-z0-9]", "", text)[:8]  # noqa: E731
    return f"k8s-{clean(namespace)}-{clean(name)}-{digest.hexdigest()[:10]}"


def _hc_numbers(notes: dict, defaults: dict) -> dict:
    return {key: int(notes.get(ANNOTATION + "healthcheck-" + key, value)) for key, value in defaults.items()}


def _annotations(service: dict) -> dict:
    return service["metadata"].get("annotations") or {}
