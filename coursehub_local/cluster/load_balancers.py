"""Services of type LoadBalancer get the AWS load balancer the AWS cloud provider would make, in moto.

What kubernetes/cloud-provider-aws does (``pkg/providers/v1/aws.go`` EnsureLoadBalancer,
``aws_loadbalancer.go``), reproduced here because the BinderHub workflow trips on it:

- NodePorts are kube-apiserver's (``kube/node_ports``): a Service has them from the write that stores it.
- A classic ELB named ``"a" + uid without dashes`` with one TCP listener ``port -> nodePort`` per
  Service port in order, the cluster's subnets, a security group ``k8s-elb-<name>`` and the tags
  ``kubernetes.io/cluster/<cluster>: owned`` and ``kubernetes.io/service-name: <ns>/<name>``; the
  cluster's running node instances are registered (``classic_elbs``), with the health check the
  provider computes (``load_balancer_rules``).
- Every ``health_check_resync`` simulated seconds the listeners, registrations and health check are
  put back to what the Service says: a bare ``ConfigureHealthCheck`` does not last.
- ``aws-load-balancer-type: nlb`` (in-tree) or ``external`` (AWS Load Balancer Controller) gives an
  elbv2 NLB with one TCP listener and target group per port (``network_lbs``).
- ``status.loadBalancer.ingress[0].hostname`` is the DNS name after ``load_balancer_ready`` seconds;
  deleting the Service (or its namespace, or changing its type) deletes the load balancer and its
  target groups at once, and its security group ``elb_security_group_release`` seconds later (AWS
  answers DependencyViolation until the ELB has finished deleting). The service controller's
  finalizer ``service.kubernetes.io/load-balancer-cleanup`` (the Load Balancer Controller's
  ``service.k8s.aws/resources``) keeps a deleted Service until then.
- When the cluster goes, so does its cloud controller: whatever it has not deleted by then (load
  balancers, target groups, security groups) stays in AWS, as it does on EKS.

Whether instances pass the health checks is judged in ``instance_health``.
"""
from __future__ import annotations

import logging
import threading

from botocore.exceptions import ClientError

from coursehub_local.cluster import instance_health
from coursehub_local.cluster.classic_elbs import ClassicElbs
from coursehub_local.cluster.cluster_aws import ClusterAws
from coursehub_local.cluster.context import ClusterContext
from coursehub_local.cluster.load_balancer_rules import cleanup_finalizer, is_nlb, load_balancer_name
from coursehub_local.cluster.network_lbs import NetworkLbs
from coursehub_local.cluster.services import is_load_balancer, load_balancer_hostname, service_key, set_finalizer
from coursehub_local.kube.errors import ApiError

log = logging.getLogger(__name__)


class LoadBalancerController:
    """Plays the cloud provider's service controller for one cluster."""

    def __init__(self, ctx: ClusterContext):
        self.ctx = ctx
        self.aws = ClusterAws(ctx)
        self.classic_elbs, self.nlbs = ClassicElbs(self.aws), NetworkLbs(self.aws)
        self.classic = self.classic_elbs.owners  # ELB name -> (namespace, service)
        self.target_groups = self.nlbs.owners  # target group ARN -> (namespace, service)
        self._lock = threading.RLock()
        self._status_due: set[str] = set()
        self._tearing_down: set[str] = set()  # Service uids whose load balancer is being deleted
        self._unsubscribe = None
        self._stopped = False
        self._pass_queued = False
        self._queue_lock = threading.Lock()

    def start(self) -> None:
        instance_health.register(self)
        self._unsubscribe = self.ctx.store.subscribe(self._on_event)
        for service in self._services():
            self._handle(service)
        self.ctx.timeline.after(self.ctx.timings.health_check_resync, self._resync)

    def stop(self) -> None:
        self._stopped = True
        if self._unsubscribe:
            self._unsubscribe()
        instance_health.unregister(self)

    def nodes_changed(self) -> None:
        """Register exactly the running node instances with every load balancer (in the background)."""
        with self._queue_lock:
            if self._pass_queued:
                return
            self._pass_queued = True
        self._in_background(self._reconcile_all)

    def _in_background(self, action) -> None:
        # Not on the caller's thread: that is often the stack's ticker, which every other timer waits on.
        def run() -> None:
            try:
                action()
            except Exception:  # noqa: BLE001 - logged; the next change or resync tries again
                if not self._stopped:  # else AWS went away with the stack, mid-pass
                    log.exception("load balancer pass failed in cluster %s", self.ctx.name)
        threading.Thread(target=run, name=f"load-balancers-{self.ctx.name}", daemon=True).start()

    def _reconcile_all(self) -> None:
        with self._lock:
            with self._queue_lock:  # cleared once this pass holds the lock: at most one more pass waits
                self._pass_queued = False
            for service in self._services():
                if (is_load_balancer(service) or service["metadata"].get("deletionTimestamp")) and not self._stopped:
                    self._handle(service)  # a teardown that failed is tried again here

    # -- events -------------------------------------------------------------------
    def _on_event(self, event) -> None:
        if event.key != ("", "services") or self._stopped:
            return
        if event.type == "DELETED":
            self._tear_down(event.obj)
        else:
            self._handle(event.obj, event.old)

    def _handle(self, service: dict, old: dict | None = None) -> None:
        if not service["metadata"].get("deletionTimestamp"):
            self._reconcile(service, old)
        elif cleanup_finalizer(service) in (service["metadata"].get("finalizers") or []):
            self._tear_down(service)

    def _resync(self) -> None:
        if self._stopped:
            return
        try:
            self.nodes_changed()
        finally:
            self.ctx.timeline.after(self.ctx.timings.health_check_resync, self._resync)

    def _reconcile(self, service: dict, old: dict | None = None) -> None:
        with self._lock:
            if is_load_balancer(service):
                if not self._set_finalizer(service, True):
                    return  # the Service was rewritten with the finalizer; its MODIFIED event continues
                try:
                    self._ensure(service)
                except (ClientError, ValueError) as error:
                    log.warning("load balancer for %s not ensured: %s", service_key(service), error)
            elif old is not None and is_load_balancer(old):
                self._tear_down(old)
                self._set_hostname(service, None)

    # -- ensure -------------------------------------------------------------------------
    def _ensure(self, service: dict) -> None:
        name = load_balancer_name(service)
        if is_nlb(service):
            groups = self.classic_elbs.delete(name)
            if groups:
                self._when_released(lambda: self._release(service, groups, finalize=False))
            dns = self.nlbs.ensure(service, name)
        else:
            self.nlbs.delete(name)
            dns = self.classic_elbs.ensure(service, name)
        if dns and load_balancer_hostname(service) != dns and service["metadata"]["uid"] not in self._status_due:
            self._status_due.add(service["metadata"]["uid"])
            self.ctx.timeline.after(self.ctx.timings.load_balancer_ready,
                                    lambda: self._in_background(lambda: self._publish(service)))

    # -- status and teardown ------------------------------------------------------------
    def _publish(self, service: dict) -> None:
        self._status_due.discard(service["metadata"]["uid"])
        with self._lock:
            current = self._current(service)
            if current is None or not is_load_balancer(current):
                return
            name = load_balancer_name(current)
            found = self.aws.describe_nlb(name) if is_nlb(current) else self.aws.describe_classic(name)
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
                log.debug("status of %s not set: %s", service_key(service), error)

    def _tear_down(self, service: dict) -> None:
        """EnsureLoadBalancerDeleted, then (once the security groups are gone too) drop the finalizer."""
        uid = service["metadata"]["uid"]
        with self._lock:
            if uid in self._tearing_down:
                return
            self._tearing_down.add(uid)
            name = load_balancer_name(service)
            try:
                groups = self.classic_elbs.delete(name)
                self.nlbs.delete(name)
            except ClientError as error:
                self._tearing_down.discard(uid)
                log.warning("load balancer %s of %s not deleted: %s", name, service_key(service), error)
                return
        if groups:
            self._when_released(lambda: self._release(service, groups))
        else:
            self._release(service, groups)

    def _when_released(self, action) -> None:
        """Run ``action`` once a deleted ELB has let go of its security groups."""
        self.ctx.timeline.after(self.ctx.timings.elb_security_group_release, lambda: self._in_background(action))

    def _release(self, service: dict, groups: list[str], finalize: bool = True) -> None:
        """Delete the security groups a deleted ELB left, then (``finalize``) let the Service go."""
        if self._stopped:
            return  # the cloud controller went with the cluster: the groups stay behind
        try:
            self.classic_elbs.delete_security_groups(groups)
        except ClientError as error:
            log.warning("security groups %s of %s not deleted: %s", groups, service_key(service), error)
        finally:
            if finalize:
                self._tearing_down.discard(service["metadata"]["uid"])
        if finalize:
            self._set_finalizer(service, False)

    def _set_finalizer(self, service: dict, present: bool) -> bool:
        """Add (or drop) the cleanup finalizer; True if the stored Service already was as wanted."""
        def load_balancer_again(current: dict) -> bool:
            return not present and is_load_balancer(current) and not current["metadata"].get("deletionTimestamp")
        return set_finalizer(self.ctx.store, service, cleanup_finalizer(service), present, load_balancer_again)

    # -- the Services ---------------------------------------------------------------------
    def _services(self) -> list[dict]:
        return self.ctx.store.list(self.ctx.store.resource_type("v1", "Service"))[0]

    def _current(self, service: dict) -> dict | None:
        try:
            current = self.ctx.store.get_object("v1", "Service", *service_key(service))
        except ApiError:
            return None
        return current if current["metadata"]["uid"] == service["metadata"]["uid"] else None
