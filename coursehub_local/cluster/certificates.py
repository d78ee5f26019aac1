"""cert-manager's part: ingress-shim, ACME http01 issuance against the local ACME CA, Challenges that say why.

Active in clusters where cert-manager's CRDs exist. Ingresses annotated with an issuer get
Certificates (``ingress_shim``). For an ACME Certificate each name gets a Challenge
(``acme_challenges``) that the http01 solver presents (``acme_solver``: its own Ingress, or a path on
the Ingress named by edit in place), after a temporary certificate when the Certificate asks for one
(``temporary_certificates``). The self check then GETs each name's challenge URL through the stack's
Route53 and load balancer fronts, where the ingress controller's rules decide what answers
(``acme_self_check``); a Challenge stays pending with the check's error. Once every check passes,
``certificate_issue`` simulated seconds later the Secret is written, signed by the stack's ACME CA
(``certificate_secrets``), and the solver's objects and the Challenges are removed. Pending
Certificates are re-checked every ``RECHECK_SECONDS`` of simulated time (no more often than every
``MIN_REAL_RECHECK`` real seconds).
"""
from __future__ import annotations

from coursehub_local.acme_ca import LocalAcmeCa
from coursehub_local.cluster.acme_challenges import (delete_challenges, digits, ensure_challenges, origin,
                                                     set_challenge_state)
from coursehub_local.cluster.acme_self_check import self_check
from coursehub_local.cluster.acme_solver import order_solver, present
from coursehub_local.cluster.background_controller import BackgroundController
from coursehub_local.cluster.cert_manager_objects import (CM, condition, find_issuer, find_secret, new_condition,
                                                          set_status)
from coursehub_local.cluster.certificate_secrets import pending_status, secret_problem, set_ready, write_issued
from coursehub_local.cluster.context import ClusterContext
from coursehub_local.cluster.ingress_shim import shim_ingresses
from coursehub_local.cluster.temporary_certificates import ensure_temporary, is_temporary, wants_temporary
from coursehub_local.dns import LocalDns, Snapshot

RECHECK_SECONDS = 10
# A pass resolves through moto over HTTP (~10 ms); at high time scales re-check at most this often in real time.
MIN_REAL_RECHECK = 0.1
WATCHED = frozenset({("networking.k8s.io", "ingresses"), ("", "services"), ("", "secrets"), ("", "nodes"),
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
        secret = find_secret(store, meta["namespace"], spec.get("secretName", ""))
        reason, message = secret_problem(secret, cert)
        if reason is None and is_temporary(secret):
            reason, message = "Issuing", "Issued temporary certificate"  # the issuing controller's Event
        if reason is None:
            if condition(cert, "Ready").get("status") != "True":
                set_ready(store, cert)
            return True
        set_status(store, cert, pending_status(cert, reason, message))
        acme = (issuer or {}).get("spec", {}).get("acme", {})
        solver = next((s for s in acme.get("solvers", []) if "http01" in s), None)
        if not names or not acme.get("server") or solver is None:
            return False  # no issuer yet, or one the local stack cannot play (not ACME http01)
        if wants_temporary(cert):
            ensure_temporary(store, cert)
        failures = []
        for challenge in ensure_challenges(store, cert, acme, order_solver(solver, cert)):
            present(store, challenge)
            failure = self_check(self.dns, snapshot, challenge["spec"]["dnsName"], challenge["spec"]["token"],
                                 challenge["spec"]["key"])
            set_challenge_state(store, challenge, failure)
            failures.append(failure)
        if any(failures):
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
