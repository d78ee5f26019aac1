"""cert-manager's part: ingress-shim, ACME http01 issuance against the local ACME CA, Challenges that say why.

Active in clusters where cert-manager's CRDs exist. Ingresses annotated with an issuer get
Certificates (``ingress_shim``). An ACME Certificate is issued only when every dnsName resolves,
through the stack's Route53, to the load balancer of the ingress class its http01 solver uses;
``certificate_issue`` simulated seconds later the Secret is written, signed by the stack's ACME CA
(``certificate_secrets``). Until then each name has a Challenge whose ``status.reason`` is what
cert-manager's self check would report (``acme_challenges``). Pending Certificates are re-checked
every ``RECHECK_SECONDS`` of simulated time (no more often than every ``MIN_REAL_RECHECK`` real seconds).
"""
from __future__ import annotations

from coursehub_local.acme_ca import LocalAcmeCa
from coursehub_local.cluster.acme_challenges import (challenge_token, delete_challenges, digits, origin,
                                                     self_check_failure, solver_load_balancer, write_challenges)
from coursehub_local.cluster.background_controller import BackgroundController
from coursehub_local.cluster.cert_manager_objects import (CM, condition, find_issuer, find_secret, new_condition,
                                                          set_status)
from coursehub_local.cluster.certificate_secrets import pending_status, secret_problem, set_ready, write_issued
from coursehub_local.cluster.context import ClusterContext
from coursehub_local.cluster.ingress_shim import shim_ingresses
from coursehub_local.dns import LocalDns, Snapshot

RECHECK_SECONDS = 10
# A pass resolves through moto over HTTP (~10 ms); at high time scales re-check at most this often in real time.
MIN_REAL_RECHECK = 0.1
WATCHED = frozenset({("networking.k8s.io", "ingresses"), ("", "services"), ("", "secrets"),
                     ("apiextensions.k8s.io", "customresourcedefinitions"), ("cert-manager.io", "certificates"),
                     ("cert-manager.io", "issuers"), ("cert-manager.io", "clusterissuers")})


class CertificateController(BackgroundController):
    """Plays cert-manager's controller for one cluster; passes run on its own thread."""

    watched = WATCHED
    thread_name = "cert-manager"
    failure_message = "cert-manager pass failed in cluster %s"  # the next change or re-check retries

    def __init__(self, ctx: ClusterContext, dns: LocalDns, ca: LocalAcmeCa):
        super().__init__(ctx)
        self.dns, self.ca = dns, ca
        self._verified: dict[tuple[str, str], tuple[tuple[str, ...], float]] = {}  # names, since (sim s)
        self._recheck_scheduled = False

    def sync(self) -> None:
        """One pass: issuers, ingress-shim, then every Certificate."""
        store = self.ctx.store
        if any(store.catalogue.by_kind(CM, kind) is None for kind in ("Certificate", "Issuer", "ClusterIssuer")):
            return  # cert-manager's CRDs are still being installed, one at a time
        for kind in ("Issuer", "ClusterIssuer"):
            for issuer in store.list(store.resource_type(CM, kind))[0]:
                self._register_account(issuer)
        shim_ingresses(store)
        snapshot, pending = self.dns.snapshot(), False
        for cert in store.list(store.resource_type(CM, "Certificate"))[0]:
            pending |= not self._reconcile(cert, snapshot)
        if pending and not self._recheck_scheduled:
            self._recheck_scheduled = True
            interval = max(RECHECK_SECONDS, MIN_REAL_RECHECK * self.ctx.clock.time_scale)
            self.ctx.timeline.after(interval, self._recheck)

    def _register_account(self, issuer: dict) -> None:
        server = issuer.get("spec", {}).get("acme", {}).get("server")
        if not server or condition(issuer, "Ready").get("status") == "True":
            return
        uri = f"{origin(server)}/acme/acct/{digits(issuer['metadata']['uid'])}"
        status = {"acme": {"uri": uri, "lastRegisteredEmail": issuer["spec"]["acme"].get("email", "")},
                  "conditions": [new_condition("Ready", "True", "ACMEAccountRegistered",
                                               "The ACME account was registered with the ACME server", issuer)]}
        set_status(self.ctx.store, issuer, status)

    def _reconcile(self, cert: dict, snapshot: Snapshot) -> bool:
        """Bring one Certificate forward; True when it is Ready and nothing is left to do."""
        store = self.ctx.store
        meta, spec = cert["metadata"], cert.get("spec", {})
        key, names = (meta["namespace"], meta["name"]), tuple(spec.get("dnsNames", []))
        ref = spec.get("issuerRef", {})
        issuer = find_issuer(store, ref.get("kind", "Issuer"), ref.get("name", ""), meta["namespace"])
        reason, message = secret_problem(find_secret(store, meta["namespace"], spec.get("secretName", "")), cert)
        if reason is None:
            if condition(cert, "Ready").get("status") != "True":
                set_ready(store, cert)
            return True
        set_status(store, cert, pending_status(cert, reason, message))
        acme = (issuer or {}).get("spec", {}).get("acme", {})
        solver = next((s for s in acme.get("solvers", []) if "http01" in s), None)
        if not names or not acme.get("server") or solver is None:
            return False  # no issuer yet, or one the local stack cannot play (not ACME http01)
        expected = solver_load_balancer(store, solver, meta["namespace"])
        failures = {name: self_check_failure(name, snapshot.resolve(name), expected, challenge_token(cert, name))
                    for name in names}
        write_challenges(store, cert, acme, solver, failures)
        if any(failures.values()):
            self._verified.pop(key, None)
            return False
        now, verified = self.ctx.clock.time(), self._verified.get(key)
        if verified is None or verified[0] != names:
            self._verified[key] = (names, now)  # the ACME server validates, then finalizes the order
            self.ctx.timeline.after(self.ctx.timings.certificate_issue, self._wake.set)
            return False
        if now - verified[1] < self.ctx.timings.certificate_issue:
            return False
        self._issue(cert, issuer)
        return True

    def _issue(self, cert: dict, issuer: dict) -> None:
        store, meta = self.ctx.store, cert["metadata"]
        issued = write_issued(store, self.ca, cert, issuer)
        self._verified.pop((meta["namespace"], meta["name"]), None)
        delete_challenges(store, cert)
        current = store.get_object(CM, "Certificate", meta["namespace"], meta["name"])
        set_ready(store, current, revision=current.get("status", {}).get("revision", 0) + 1,
                  validity=(issued.not_before, issued.not_after))

    def _recheck(self) -> None:
        self._recheck_scheduled = False
        self._wake.set()
