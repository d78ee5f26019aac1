"""Services of type LoadBalancer get the AWS load balancer the AWS cloud provider would make, in moto.

What kubernetes/cloud-provider-aws does (``pkg/providers/v1/aws.go`` EnsureLoadBalancer,
``aws_loadbalancer.go``), reproduced here because the BinderHub workflow trips on it:

- NodePorts (30000-32767, unique in the cluster) are filled in where a port has none
  (kube-apiserver's job on EKS; ports already set are kept).
- A classic ELB named ``"a" + uid without dashes`` (32 characters, cloudprovider.DefaultLoadBalancerName)
  with one TCP listener ``port -> nodePort`` per Service port in order, the cluster's subnets, a security
  group ``k8s-elb-<name>`` and the tags ``kubernetes.io/cluster/<cluster>: owned`` and
  ``kubernetes.io/service-name: <ns>/<name>``; the cluster's running node instances are registered.
- The health check, as ``ensureLoadBalancerHealthCheck`` sets it: the port is the NodePort of the
  FIRST Service port (``tcpHealthCheckPort``), the protocol TCP (SSL when
  ``aws-load-balancer-backend-protocol`` is https/ssl); an ``externalTrafficPolicy: Local`` Service
  gets ``HTTP:<healthCheckNodePort>/healthz``. Then the annotations ``...-healthcheck-protocol``
  replaces the protocol, ``...-healthcheck-port`` the port (``traffic-port`` keeps it), HTTP/HTTPS get
  the path ``...-healthcheck-path`` (default ``/``) and other protocols no path; Target is
  ``PROTOCOL:PORT[PATH]``. Thresholds/timeout/interval come from their annotations, defaulting to
  2 / 6 / 5 / 10 (``defaultElbHC*``). So a Service whose first port is 443 is checked on 443's
  NodePort (z2jh issue #1637).
- Every ``health_check_resync`` simulated seconds the listeners, registrations and health check are
  put back to what the Service says: a bare ``ConfigureHealthCheck`` does not last.
- ``aws-load-balancer-type: nlb`` (in-tree) or ``external`` (AWS Load Balancer Controller) gives an
  elbv2 NLB with one TCP listener and target group per port (instance targets on the NodePorts). The
  target group health check uses the same annotations with ``traffic-port`` meaning the group's own
  NodePort; defaults 30 s / 3 / 3 (``defaultNlbHealthCheck*``) for ``nlb`` and 10 s / 3 / 3 (the
  controller's documented defaults) for ``external``.
- ``status.loadBalancer.ingress[0].hostname`` is the DNS name after ``load_balancer_ready`` seconds;
  deleting the Service (or its namespace, or changing its type) deletes the load balancer, its
  target groups and its security group.

Instance health (``describe_instance_health``; NLB ``describe_target_health`` likewise), patched into
moto by ``moto_patches``: an instance is InService only if it is running AND the health check's port
is the NodePort of a port of this Service whose targetPort (number or name) is a containerPort of a
READY workload selected by the Service's selector (a Deployment, StatefulSet or DaemonSet in its
namespace whose pod template labels include the selector and which has a ready replica); for a
``Local`` Service its healthCheckNodePort counts once any port has such a backend. Everything else is
OutOfService. HTTP paths are assumed to answer 200. z2jh's proxy-public (first port 443, targetPort
``https`` declared by no container when HTTPS is off) is therefore OutOfService on every instance.
"""
from __future__ import annotations

import hashlib
import logging
import random
import re
import threading
from typing import Any

from botocore.exceptions import ClientError

from coursehub_local.cluster.context import ClusterContext
from coursehub_local.kube.errors import ApiError

log = logging.getLogger(__name__)
ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-"
NODE_PORTS = (30000, 32767)
TRAFFIC_PORT = "traffic-port"
ELB_HC_DEFAULTS = {"healthy-threshold": 2, "unhealthy-threshold": 6, "timeout": 5, "interval": 10}
NLB_HC_DEFAULTS = {"healthy-threshold": 3, "unhealthy-threshold": 3, "timeout": 10, "interval": 30}
LBC_HC_DEFAULTS = {"healthy-threshold": 3, "unhealthy-threshold": 3, "timeout": 10, "interval": 10}
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")

_controllers: set["LoadBalancerController"] = set()
_registry_lock = threading.Lock()


def instance_health(lb_name: str, target: str) -> bool | None:
    """Whether a running instance passes ``target`` of classic ELB ``lb_name``; None if no cluster owns it."""
    port = _target_port(target)
    for controller in _registered():
        verdict = controller.passes(controller.classic.get(lb_name), port)
        if verdict is not None:
            return verdict
    return None


def target_health(target_group_arn: str, port: int) -> bool | None:
    """Whether a target passes a health check on ``port`` of an NLB target group; None if not ours."""
    for controller in _registered():
        verdict = controller.passes(controller.target_groups.get(target_group_arn), port)
        if verdict is not None:
            return verdict
    return None


def _registered() -> list["LoadBalancerController"]:
    with _registry_lock:
        return list(_controllers)


class LoadBalancerController:
    """Plays the cloud provider's service controller for one cluster."""

    def __init__(self, ctx: ClusterContext):
        self.ctx = ctx
        self.classic: dict[str, tuple[str, str]] = {}  # ELB name -> (namespace, service)
        self.target_groups: dict[str, tuple[str, str]] = {}  # target group ARN -> (namespace, service)
        self._clients: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._status_due: set[str] = set()
        self._unsubscribe = None
        self._stopped = False
        self._pass_queued = False
        self._queue_lock = threading.Lock()

    def start(self) -> None:
        with _registry_lock:
            _controllers.add(self)
        self._unsubscribe = self.ctx.store.subscribe(self._on_event)
        for service in self._services():
            self._reconcile(service)
        self.ctx.timeline.after(self.ctx.timings.health_check_resync, self._resync)

    def stop(self) -> None:
        self._stopped = True
        if self._unsubscribe:
            self._unsubscribe()
        with _registry_lock:
            _controllers.discard(self)

    def nodes_changed(self) -> None:
        """Register exactly the running node instances with every load balancer (in the background)."""
        with self._queue_lock:
            if self._pass_queued:
                return
            self._pass_queued = True
        self._in_background(self._reconcile_all)

    def _in_background(self, action) -> None:
        # Not on the caller's thread: that is often the stack's ticker, which every other timer waits on.
        threading.Thread(target=action, name=f"load-balancers-{self.ctx.name}", daemon=True).start()

    def _reconcile_all(self) -> None:
        with self._queue_lock:
            self._pass_queued = False
        with self._lock:
            for service in self._services():
                if _is_load_balancer(service) and not self._stopped:
                    self._reconcile(service)

    # -- events -------------------------------------------------------------------
    def _on_event(self, event) -> None:
        if event.key != ("", "services") or self._stopped:
            return
        if event.type == "DELETED":
            self._tear_down(event.obj)
        else:
            self._reconcile(event.obj, event.old)

    def _resync(self) -> None:
        if self._stopped:
            return
        try:
            self.nodes_changed()
        finally:
            self.ctx.timeline.after(self.ctx.timings.health_check_resync, self._resync)

    def _reconcile(self, service: dict, old: dict | None = None) -> None:
        with self._lock:
            if service["spec"].get("type") in ("NodePort", "LoadBalancer") and not self._node_ports(service, old):
                return  # the Service was rewritten with NodePorts; its MODIFIED event continues
            if _is_load_balancer(service):
                try:
                    self._ensure(service)
                except (ClientError, ValueError) as error:
                    log.warning("load balancer for %s not ensured: %s", _key(service), error)
            elif old is not None and _is_load_balancer(old):
                self._tear_down(old)
                self._set_hostname(service, None)

    # -- NodePorts ------------------------------------------------------------------
    def _node_ports(self, service: dict, old: dict | None) -> bool:
        """True if every port already has a NodePort; otherwise allocate them and store the Service."""
        spec = service["spec"]
        local = spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"
        if all(p.get("nodePort") for p in spec.get("ports") or []) and (spec.get("healthCheckNodePort") or not local):
            return True
        store = self.ctx.store
        rtype = store.resource_type("v1", "Service")
        with store.lock:
            try:
                current = store.get(rtype, service["metadata"]["namespace"], service["metadata"]["name"])
            except ApiError:
                return False
            if current["metadata"]["uid"] != service["metadata"]["uid"]:
                return False
            used = self._used_node_ports()
            before = {(p.get("port"), p.get("protocol")): p.get("nodePort")
                      for p in ((old or {}).get("spec") or {}).get("ports") or []}
            for port in current["spec"].get("ports") or []:
                if not port.get("nodePort"):
                    port["nodePort"] = before.get((port.get("port"), port.get("protocol"))) or _free(used)
                    used.add(port["nodePort"])
            if local and not current["spec"].get("healthCheckNodePort"):
                current["spec"]["healthCheckNodePort"] = _free(used)
            try:
                store.update(rtype, current, current["metadata"]["namespace"], current["metadata"]["name"])
            except ApiError as error:  # changed meanwhile: its own event brings it back here
                log.debug("NodePorts of %s not stored: %s", _key(service), error)
        return False

    def _used_node_ports(self) -> set[int]:
        used = set()
        for service in self._services():
            used.update(p["nodePort"] for p in service["spec"].get("ports") or [] if p.get("nodePort"))
            if service["spec"].get("healthCheckNodePort"):
                used.add(service["spec"]["healthCheckNodePort"])
        return used

    # -- ensure -------------------------------------------------------------------------
    def _ensure(self, service: dict) -> None:
        name = load_balancer_name(service)
        if is_nlb(service):
            self._delete_classic(name)
            dns = self._ensure_nlb(service, name)
        else:
            self._delete_nlb(name)
            dns = self._ensure_classic(service, name)
        hostname = (((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or [{}])[0].get("hostname")
        if dns and hostname != dns and service["metadata"]["uid"] not in self._status_due:
            self._status_due.add(service["metadata"]["uid"])
            self.ctx.timeline.after(self.ctx.timings.load_balancer_ready,
                                    lambda: self._in_background(lambda: self._publish(service)))

    def _ensure_classic(self, service: dict, name: str) -> str | None:
        elb = self._client("elb")
        listeners = classic_listeners(service)
        if not listeners:
            return None
        self.classic[name] = _key(service)
        current = self._describe_classic(name)
        if current is None:
            group = self._ensure_security_group(service, name)
            elb.create_load_balancer(LoadBalancerName=name, Listeners=listeners, Subnets=self._subnets(),
                                     SecurityGroups=[group], Tags=_tag_list(self._tags(service)))
            current = self._describe_classic(name)
        else:
            actual = [d["Listener"] for d in current["ListenerDescriptions"]]
            removals = [a["LoadBalancerPort"] for a in actual if _listener(a) not in map(_listener, listeners)]
            additions = [want for want in listeners if _listener(want) not in map(_listener, actual)]
            if removals:
                elb.delete_load_balancer_listeners(LoadBalancerName=name, LoadBalancerPorts=removals)
            if additions:
                elb.create_load_balancer_listeners(LoadBalancerName=name, Listeners=additions)
        wanted = classic_health_check(service)
        if current.get("HealthCheck") != wanted:
            elb.configure_health_check(LoadBalancerName=name, HealthCheck=wanted)
        registered = {i["InstanceId"] for i in current.get("Instances", [])}
        running = set(self._node_instances())
        if running - registered:
            elb.register_instances_with_load_balancer(
                LoadBalancerName=name, Instances=[{"InstanceId": i} for i in sorted(running - registered)])
        if registered - running:
            elb.deregister_instances_from_load_balancer(
                LoadBalancerName=name, Instances=[{"InstanceId": i} for i in sorted(registered - running)])
        return current["DNSName"]

    def _ensure_security_group(self, service: dict, name: str) -> str:
        ec2 = self._client("ec2")
        vpc = self._vpc()
        group_name = f"k8s-elb-{name}"
        found = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [group_name]},
                                                      {"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]
        if found:
            return found[0]["GroupId"]
        group = ec2.create_security_group(
            GroupName=group_name, VpcId=vpc,
            Description=f"Security group for Kubernetes ELB {name} ({'/'.join(_key(service))})",
            TagSpecifications=[{"ResourceType": "security-group", "Tags": _tag_list(self._tags(service))}])["GroupId"]
        sources = [{"CidrIp": c} for c in service["spec"].get("loadBalancerSourceRanges") or ["0.0.0.0/0"]]
        permissions = [{"IpProtocol": p.get("protocol", "TCP").lower(), "FromPort": p["port"], "ToPort": p["port"],
                        "IpRanges": sources} for p in service["spec"]["ports"]]
        permissions.append({"IpProtocol": "icmp", "FromPort": 3, "ToPort": 4, "IpRanges": sources})  # MTU discovery
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=permissions)
        return group

    def _ensure_nlb(self, service: dict, name: str) -> str | None:
        elbv2 = self._client("elbv2")
        mappings = [p for p in service["spec"]["ports"] if p.get("nodePort")]
        if not mappings:
            return None
        current = self._describe_nlb(name)
        if current is None:
            current = elbv2.create_load_balancer(Name=name, Type="network", Subnets=self._subnets(),
                                                 Scheme=nlb_scheme(service),
                                                 Tags=_tag_list(self._tags(service)))["LoadBalancers"][0]
        arn = current["LoadBalancerArn"]
        listeners = {(l["Port"], l["Protocol"]): l for l in elbv2.describe_listeners(LoadBalancerArn=arn)["Listeners"]}
        groups = {g["TargetGroupArn"]: g for g in self._target_groups_of(arn)}
        instances = self._node_instances()
        wanted = set()
        for port in mappings:
            protocol = port.get("protocol", "TCP")
            health = nlb_health_check(service)
            group_name = target_group_name(self.ctx.name, service, port, health)
            listener = listeners.get((port["port"], protocol))
            group = groups.get(listener["DefaultActions"][0]["TargetGroupArn"]) if listener else None
            if group is None or group["TargetGroupName"] != group_name:
                group = self._create_target_group(service, port, health, group_name, current["VpcId"])
                forward = [{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}]
                if listener:  # protocol or interval changed: the provider makes a new group
                    elbv2.modify_listener(ListenerArn=listener["ListenerArn"], DefaultActions=forward)
                else:
                    elbv2.create_listener(LoadBalancerArn=arn, Protocol=protocol, Port=port["port"],
                                          DefaultActions=forward, Tags=_tag_list(self._tags(service)))
            else:
                self._sync_target_group_health(group, health)
            wanted.add((port["port"], protocol))
            self.target_groups[group["TargetGroupArn"]] = _key(service)
            self._sync_targets(group["TargetGroupArn"], port["nodePort"], instances)
        for (port, protocol), listener in listeners.items():
            if (port, protocol) not in wanted:
                elbv2.delete_listener(ListenerArn=listener["ListenerArn"])
        in_use = {listener["DefaultActions"][0]["TargetGroupArn"]
                  for listener in elbv2.describe_listeners(LoadBalancerArn=arn)["Listeners"]}
        for group_arn in set(groups) - in_use:
            elbv2.delete_target_group(TargetGroupArn=group_arn)
            self.target_groups.pop(group_arn, None)
        return current["DNSName"]

    def _create_target_group(self, service: dict, port: dict, health: dict, name: str, vpc: str) -> dict:
        args = dict(Name=name, Protocol=port.get("protocol", "TCP"), Port=port["nodePort"], VpcId=vpc,
                    TargetType="instance", HealthCheckPort=health["port"], HealthCheckProtocol=health["protocol"],
                    HealthCheckIntervalSeconds=health["interval"], HealthyThresholdCount=health["healthy-threshold"],
                    UnhealthyThresholdCount=health["unhealthy-threshold"], HealthCheckTimeoutSeconds=health["timeout"],
                    Tags=_tag_list(self._tags(service)))
        if health["protocol"] != "TCP":
            args["HealthCheckPath"] = health["path"]
        return self._client("elbv2").create_target_group(**args)["TargetGroups"][0]

    def _sync_target_group_health(self, group: dict, health: dict) -> None:
        wanted = {"HealthCheckPort": health["port"], "HealthyThresholdCount": health["healthy-threshold"],
                  "UnhealthyThresholdCount": health["unhealthy-threshold"],
                  "HealthCheckTimeoutSeconds": health["timeout"]}
        if health["protocol"] != "TCP":
            wanted["HealthCheckPath"] = health["path"]
        changed = {k: v for k, v in wanted.items() if group.get(k) != v}
        if changed:
            self._client("elbv2").modify_target_group(TargetGroupArn=group["TargetGroupArn"], **changed)

    def _sync_targets(self, group_arn: str, node_port: int, instances: list[str]) -> None:
        elbv2 = self._client("elbv2")
        health = elbv2.describe_target_health(TargetGroupArn=group_arn)["TargetHealthDescriptions"]
        actual = {(h["Target"]["Id"], h["Target"]["Port"]) for h in health}
        expected = {(i, node_port) for i in instances}
        if expected - actual:
            elbv2.register_targets(TargetGroupArn=group_arn,
                                   Targets=[{"Id": i, "Port": p} for i, p in sorted(expected - actual)])
        if actual - expected:
            elbv2.deregister_targets(TargetGroupArn=group_arn,
                                     Targets=[{"Id": i, "Port": p} for i, p in sorted(actual - expected)])

    # -- status and teardown ------------------------------------------------------------
    def _publish(self, service: dict) -> None:
        self._status_due.discard(service["metadata"]["uid"])
        with self._lock:
            current = self._current(service)
            if current is None or not _is_load_balancer(current):
                return
            name = load_balancer_name(current)
            found = self._describe_nlb(name) if is_nlb(current) else self._describe_classic(name)
            if found:
                self._set_hostname(current, found["DNSName"])

    def _set_hostname(self, service: dict, hostname: str | None) -> None:
        status = dict(service.get("status") or {})
        status["loadBalancer"] = {"ingress": [{"hostname": hostname}]} if hostname else {}
        if status != service.get("status"):
            try:
                self.ctx.store.set_status("v1", "Service", service["metadata"]["namespace"],
                                          service["metadata"]["name"], status)
            except ApiError as error:
                log.debug("status of %s not set: %s", _key(service), error)

    def _tear_down(self, service: dict) -> None:
        with self._lock:
            name = load_balancer_name(service)
            try:
                self._delete_classic(name)
                self._delete_nlb(name)
            except ClientError as error:
                log.warning("load balancer %s of %s not deleted: %s", name, _key(service), error)

    def _delete_classic(self, name: str) -> None:
        current = self._describe_classic(name)
        self.classic.pop(name, None)
        if current is None:
            return
        self._client("elb").delete_load_balancer(LoadBalancerName=name)
        ec2 = self._client("ec2")
        cluster_tag = f"kubernetes.io/cluster/{self.ctx.name}"
        for group in ec2.describe_security_groups(GroupIds=current["SecurityGroups"])["SecurityGroups"]:
            if any(t["Key"] == cluster_tag for t in group.get("Tags", [])):  # never one we did not make
                ec2.delete_security_group(GroupId=group["GroupId"])

    def _delete_nlb(self, name: str) -> None:
        current = self._describe_nlb(name)
        if current is None:
            return
        elbv2 = self._client("elbv2")
        groups = self._target_groups_of(current["LoadBalancerArn"])
        elbv2.delete_load_balancer(LoadBalancerArn=current["LoadBalancerArn"])
        for group in groups:  # only once the load balancer no longer uses them
            elbv2.delete_target_group(TargetGroupArn=group["TargetGroupArn"])
            self.target_groups.pop(group["TargetGroupArn"], None)

    # -- instance health (called from moto's request threads) -------------------------------
    def passes(self, owner: tuple[str, str] | None, port: int | None) -> bool | None:
        """None if ``owner`` is not a Service here; else whether ``port`` reaches a ready backend."""
        if owner is None:
            return None
        try:
            service = self.ctx.store.get_object("v1", "Service", *owner)
        except ApiError:
            return None
        return port in self._healthy_ports(service)

    def _healthy_ports(self, service: dict) -> set[int]:
        spec = service["spec"]
        selector = spec.get("selector") or {}
        served: set[int | str] = set()
        if selector:
            for kind in WORKLOADS:
                for workload in self.ctx.store.list(self.ctx.store.resource_type("apps/v1", kind),
                                                    service["metadata"]["namespace"])[0]:
                    template = (workload.get("spec") or {}).get("template") or {}
                    labels = (template.get("metadata") or {}).get("labels") or {}
                    if _ready(workload) and all(labels.get(k) == v for k, v in selector.items()):
                        for container in (template.get("spec") or {}).get("containers") or []:
                            for port in container.get("ports") or []:
                                served.update(x for x in (port.get("containerPort"), port.get("name")) if x)
        ports = {p["nodePort"] for p in spec.get("ports") or []
                 if p.get("nodePort") and p.get("targetPort", p.get("port")) in served}
        if ports and spec.get("healthCheckNodePort"):
            ports.add(spec["healthCheckNodePort"])
        return ports

    # -- AWS look-ups -----------------------------------------------------------------------
    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.ctx.client(service)
        return self._clients[service]

    def _describe_classic(self, name: str) -> dict | None:
        try:
            return self._client("elb").describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"][0]
        except ClientError as error:
            if error.response["Error"]["Code"] in ("LoadBalancerNotFound", "AccessPointNotFound"):
                return None
            raise

    def _describe_nlb(self, name: str) -> dict | None:
        try:
            return self._client("elbv2").describe_load_balancers(Names=[name])["LoadBalancers"][0]
        except ClientError as error:
            if error.response["Error"]["Code"] == "LoadBalancerNotFound":
                return None
            raise

    def _target_groups_of(self, load_balancer_arn: str) -> list[dict]:
        try:
            return self._client("elbv2").describe_target_groups(LoadBalancerArn=load_balancer_arn)["TargetGroups"]
        except ClientError as error:
            if error.response["Error"]["Code"] == "TargetGroupNotFound":  # moto, for a balancer without any
                return []
            raise

    def _subnets(self) -> list[str]:
        return list(self.ctx.cluster.resources_vpc_config["subnetIds"])

    def _vpc(self) -> str:
        subnet = self._client("ec2").describe_subnets(SubnetIds=self._subnets()[:1])["Subnets"][0]
        return subnet["VpcId"]

    def _node_instances(self) -> list[str]:
        reservations = self._client("ec2").describe_instances(Filters=[
            {"Name": "tag:eks:cluster-name", "Values": [self.ctx.name]},
            {"Name": "instance-state-name", "Values": ["running"]}])["Reservations"]
        return sorted(i["InstanceId"] for r in reservations for i in r["Instances"])

    def _tags(self, service: dict) -> dict[str, str]:
        return {f"kubernetes.io/cluster/{self.ctx.name}": "owned",
                "kubernetes.io/service-name": "/".join(_key(service))}

    def _services(self) -> list[dict]:
        return self.ctx.store.list(self.ctx.store.resource_type("v1", "Service"))[0]

    def _current(self, service: dict) -> dict | None:
        try:
            current = self.ctx.store.get_object("v1", "Service", *_key(service))
        except ApiError:
            return None
        return current if current["metadata"]["uid"] == service["metadata"]["uid"] else None


# -- what the cloud provider computes from a Service (pure functions) ----------------------------
def load_balancer_name(service: dict) -> str:
    """cloudprovider.DefaultLoadBalancerName: "a" + the uid without dashes, cut to 32 characters."""
    return ("a" + service["metadata"]["uid"].replace("-", ""))[:32]


def is_nlb(service: dict) -> bool:
    """``nlb`` is the in-tree NLB; ``external`` (with ``nlb-target-type``) is the AWS Load Balancer Controller's."""
    return _annotations(service).get(ANNOTATION + "type") in ("nlb", "external")


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
    namespace, name = _key(service)
    digest = hashlib.sha1()
    for part in (cluster, namespace, name, str(port["port"]), str(port["nodePort"]), port.get("protocol", "TCP"),
                 "instance", health["protocol"], str(health["interval"])):
        digest.update(part.encode())
    clean = lambda text: re.sub(r"[^A-Za-z0-9]", "", text)[:8]  # noqa: E731
    return f"k8s-{clean(namespace)}-{clean(name)}-{digest.hexdigest()[:10]}"


def _hc_numbers(notes: dict, defaults: dict) -> dict:
    return {key: int(notes.get(ANNOTATION + "healthcheck-" + key, value)) for key, value in defaults.items()}


def _target_port(target: str) -> int | None:
    match = re.match(r"^[A-Za-z]+:(\d+)", target or "")
    return int(match.group(1)) if match else None


def _listener(listener: dict) -> tuple:
    return (listener["Protocol"].upper(), listener["LoadBalancerPort"], listener["InstanceProtocol"].upper(),
            listener["InstancePort"])


def _ready(workload: dict) -> bool:
    status = workload.get("status") or {}
    ready = status.get("numberReady") if workload["kind"] == "DaemonSet" else status.get("readyReplicas")
    return (ready or 0) > 0


def _free(used: set[int]) -> int:
    while True:
        port = random.randint(*NODE_PORTS)
        if port not in used:
            return port


def _annotations(service: dict) -> dict:
    return service["metadata"].get("annotations") or {}


def _is_load_balancer(service: dict) -> bool:
    return (service.get("spec") or {}).get("type") == "LoadBalancer"


def _key(service: dict) -> tuple[str, str]:
    return service["metadata"]["namespace"], service["metadata"]["name"]


def _tag_list(tags: dict[str, str]) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]
