"""The NGINX Ingress Controller's part: Ingress status and Events, and a front on each controller Service's load balancer.

For every IngressClass whose controller is ``nginx.org/ingress-controller``, the
controller Service is the LoadBalancer Service of the same chart release (same
``app.kubernetes.io/name`` and ``app.kubernetes.io/instance`` labels). Ingresses
of that class get the Service's ``status.loadBalancer.ingress``, as the real
controller's ``-external-service`` flag does; an Ingress that owns none of its
hosts (``nginx_config``) is rejected instead: a Warning Event ``Rejected`` on it
when the problem is new or changed, and its status cleared (nginx/kubernetes-ingress
v5.5.4 ``internal/k8s/controller.go`` ``processProblems``, ``configuration.go``
``detectChangesInProblems``). Once the Service has a load balancer, a local front
(HTTP and HTTPS) stands in for it (``https_front``).
"""
from __future__ import annotations

import logging

from coursehub_local.cluster.background_controller import BackgroundController
from coursehub_local.cluster.context import ClusterContext
from coursehub_local.cluster import nginx_config
from coursehub_local.cluster.https_front import IngressFront
from coursehub_local.cluster.ingress_events import record_warning
from coursehub_local.cluster.services import is_load_balancer, load_balancer_hostname, service_key
from coursehub_local.dns import LocalDns
from coursehub_local.kube.errors import ApiError

log = logging.getLogger(__name__)
CONTROLLER = "nginx.org/ingress-controller"
CLASS_ANNOTATION = "kubernetes.io/ingress.class"  # the legacy way to name the class
DEFAULT_CLASS = "ingressclass.kubernetes.io/is-default-class"
RELEASE_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/instance")
WATCHED = frozenset({("", "services"), ("networking.k8s.io", "ingresses"), ("networking.k8s.io", "ingressclasses")})


class IngressController(BackgroundController):
    """Keeps Ingress status and one HTTPS front per controller Service in step with the cluster."""

    watched = WATCHED
    thread_name = "ingress"
    failure_message = "ingress sync failed in cluster %s"  # keep serving; the next change retries

    def __init__(self, ctx: ClusterContext, dns: LocalDns):
        super().__init__(ctx)
        self.dns = dns
        self.fronts: dict[tuple[str, str], IngressFront] = {}
        self._problems: dict[str, str] = {}  # Ingress uid -> the problem last reported on it

    def stop(self) -> None:
        super().stop()
        for front in self.fronts.values():
            front.close()
        self.fronts.clear()

    def ingresses_of(self, service: dict) -> list[dict]:
        """The Ingresses whose class the given controller Service serves."""
        classes = {name for name, s in controller_services(self.ctx.store).items()
                   if s["metadata"]["uid"] == service["metadata"]["uid"]}
        store = self.ctx.store
        return [i for i in store.list(store.resource_type("networking.k8s.io/v1", "Ingress"))[0]
                if ingress_class(i) in classes]

    def sync(self) -> None:
        """Start or stop fronts, then copy load balancer status onto the Ingresses."""
        served = controller_services(self.ctx.store)
        wanted = {}
        for service in served.values():
            hostname = load_balancer_hostname(service)
            if hostname:
                wanted[service_key(service)] = hostname
        for key in list(self.fronts):
            if self.fronts[key].load_balancer != wanted.get(key):
                self.fronts.pop(key).close()
        for key, hostname in wanted.items():
            if key not in self.fronts:
                self.fronts[key] = IngressFront(self, key, hostname)
        store = self.ctx.store
        rejected = self._report_problems(served)
        for ingress in store.list(store.resource_type("networking.k8s.io/v1", "Ingress"))[0]:
            service = served.get(ingress_class(ingress))
            if service is None:
                continue
            balancers = [{k: v for k, v in entry.items() if k in ("hostname", "ip")}
                         for entry in service.get("status", {}).get("loadBalancer", {}).get("ingress", [])]
            if ingress["metadata"]["uid"] in rejected:
                balancers = []  # ClearIngressStatus
            status = {"loadBalancer": {"ingress": balancers} if balancers else {}}
            if ingress.get("status") != status:
                try:
                    store.set_status("networking.k8s.io/v1", "Ingress", ingress["metadata"]["namespace"],
                                     ingress["metadata"]["name"], status)
                except ApiError as error:
                    log.debug("status of Ingress %s not set: %s", ingress["metadata"]["name"], error)


    def _report_problems(self, served: dict[str, dict]) -> set[str]:
        """Warn on Ingresses that own none of their hosts (once per new problem); their uids."""
        rejected: dict[str, dict] = {}
        for service in {s["metadata"]["uid"]: s for s in served.values()}.values():
            for ingress in nginx_config.build(self.ingresses_of(service)).rejected:
                rejected[ingress["metadata"]["uid"]] = ingress
        for uid, ingress in rejected.items():
            if self._problems.get(uid) != nginx_config.REJECTED_MESSAGE:
                record_warning(self.ctx.store, ingress, "Rejected", nginx_config.REJECTED_MESSAGE)
        self._problems = {uid: nginx_config.REJECTED_MESSAGE for uid in rejected}
        return set(rejected)


def controller_services(store) -> dict[str, dict]:
    """Ingress class name -> the LoadBalancer Service of the nginx-ingress release serving it ('' = default class)."""
    classes = [c for c in store.list(store.resource_type("networking.k8s.io/v1", "IngressClass"))[0]
               if c.get("spec", {}).get("controller") == CONTROLLER]
    services = [s for s in store.list(store.resource_type("v1", "Service"))[0]
                if is_load_balancer(s)]
    served = {}
    for cls in classes:
        labels = cls["metadata"].get("labels", {})
        want = {k: labels.get(k) for k in RELEASE_LABELS}
        match = next((s for s in services if None not in want.values()
                      and all(s["metadata"].get("labels", {}).get(k) == v for k, v in want.items())), None)
        if match:
            served[cls["metadata"]["name"]] = match
            if cls["metadata"].get("annotations", {}).get(DEFAULT_CLASS) == "true":
                served[""] = match  # Ingresses that name no class
    return served


def ingress_class(ingress: dict) -> str:
    """The class an Ingress asks for: spec.ingressClassName, else the legacy annotation, else '' (default)."""
    return (ingress.get("spec", {}).get("ingressClassName")
            or ingress["metadata"].get("annotations", {}).get(CLASS_ANNOTATION) or "")
