"""cert-manager's part: ingress-shim, ACME http01 issuance against the local ACME CA, Challenges that say why.

Active in clusters where cert-manager's CRDs exist. As the real ingress-shim
(pkg/controller/certificate-shim/sync.go) does, an Ingress annotated
``cert-manager.io/issuer`` or ``cert-manager.io/cluster-issuer`` gets one
Certificate per ``tls`` entry, named after its ``secretName``. An ACME
Certificate is issued only when every dnsName resolves, through the stack's
Route53, to the load balancer of the ingress class its http01 solver uses;
``certificate_issue`` simulated seconds later the Secret is written, signed by
the stack's ACME CA. Until then each name has a Challenge whose
``status.reason`` is what cert-manager's self check would report. Pending
Certificates are re-checked every ``RECHECK_SECONDS`` of simulated time (no
more often than every ``MIN_REAL_RECHECK`` real seconds).
"""
from __future__ import annotations

import base64
import hashlib
import logging
import threading
from urllib.parse import urlsplit

from coursehub_local.acme_ca import LocalAcmeCa
from coursehub_local.cluster.context import ClusterContext
from coursehub_local.cluster.ingress import controller_services, ingress_class, load_balancer_hostname
from coursehub_local.dns import LocalDns, Snapshot
from coursehub_local.kube.errors import ApiError
from coursehub_local.kube.store import now_iso

log = logging.getLogger(__name__)
CM, ACME = "cert-manager.io/v1", "acme.cert-manager.io/v1"
ISSUER_ANNOTATIONS = {"cert-manager.io/issuer": "Issuer", "cert-manager.io/cluster-issuer": "ClusterIssuer"}
# Not a cert-manager field: the local stack records which ACME directory (staging or production) issued.
ACME_SERVER_ANNOTATION = "coursehub.local/acme-server"
RECHECK_SECONDS = 10
# A pass resolves through moto over HTTP (~10 ms); at high time scales re-check at most this often in real time.
MIN_REAL_RECHECK = 0.1
WATCHED = {("networking.k8s.io", "ingresses"), ("", "services"), ("", "secrets"),
           ("apiextensions.k8s.io", "customresourcedefinitions"), ("cert-manager.io", "certificates"),
           ("cert-manager.io", "issuers"), ("cert-manager.io", "clusterissuers")}


class CertificateController:
    """Plays cert-manager's controller for one cluster; passes run on its own thread."""

    def __init__(self, ctx: ClusterContext, dns: LocalDns, ca: LocalAcmeCa):
        self.ctx, self.dns, self.ca = ctx, dns, ca
        self._verified: dict[tuple[str, str], tuple[tuple[str, ...], float]] = {}  # names, since (sim s)
        self._wake, self._stopping = threading.Event(), threading.Event()
        self._recheck_scheduled = False
        self._unsubscribe = None
        self._thread = threading.Thread(target=self._run, name=f"cert-manager-{ctx.name}", daemon=True)

    def start(self) -> None:
        self._unsubscribe = self.ctx.store.subscribe(self._on_event)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._unsubscribe:
            self._unsubscribe()
        self._thread.join(timeout=5)

    def sync(self) -> None:
        """One pass: issuers, ingress-shim, then every Certificate."""
        store = self.ctx.store
        if store.catalogue.by_kind(CM, "Certificate") is None:
            return
        for kind in ("Issuer", "ClusterIssuer"):
            for issuer in store.list(store.resource_type(CM, kind))[0]:
                self._register_account(issuer)
        self._shim_ingresses()
        snapshot, pending = self.dns.snapshot(), False
        for cert in store.list(store.resource_type(CM, "Certificate"))[0]:
            pending |= not self._reconcile(cert, snapshot)
        if pending and not self._recheck_scheduled:
            self._recheck_scheduled = True
            interval = max(RECHECK_SECONDS, MIN_REAL_RECHECK * self.ctx.clock.time_scale)
            self.ctx.timeline.after(interval, self._recheck)

    # -- issuers and ingress-shim ------------------------------------------------------
    def _register_account(self, issuer: dict) -> None:
        server = issuer.get("spec", {}).get("acme", {}).get("server")
        if not server or _condition(issuer, "Ready").get("status") == "True":
            return
        uri = f"{_origin(server)}/acme/acct/{_digits(issuer['metadata']['uid'])}"
        status = {"acme": {"uri": uri, "lastRegisteredEmail": issuer["spec"]["acme"].get("email", "")},
                  "conditions": [_new_condition("Ready", "True", "ACMEAccountRegistered",
                                                "The ACME account was registered with the ACME server", issuer)]}
        self._set_status(issuer, status)

    def _shim_ingresses(self) -> None:
        store = self.ctx.store
        certs = store.list(store.resource_type(CM, "Certificate"))[0]
        for ingress in store.list(store.resource_type("networking.k8s.io/v1", "Ingress"))[0]:
            meta = ingress["metadata"]
            issuer = next(((kind, meta["annotations"][key]) for key, kind in ISSUER_ANNOTATIONS.items()
                           if meta.get("annotations", {}).get(key)), None)
            if issuer is None or self._issuer(issuer[0], issuer[1], meta["namespace"]) is None:
                continue
            wanted = {}
            for tls in ingress.get("spec", {}).get("tls", []):
                if tls.get("secretName") and tls.get("hosts"):
                    wanted[tls["secretName"]] = _shim_certificate(ingress, tls, *issuer)
            for cert in certs:  # as the shim, delete the ones this Ingress no longer asks for
                if _owned_by(cert, ingress) and cert["metadata"]["name"] not in wanted:
                    self._delete(CM, "Certificate", meta["namespace"], cert["metadata"]["name"])
            for name, cert in wanted.items():
                current = next((c for c in certs if c["metadata"]["name"] == name
                                and c["metadata"]["namespace"] == meta["namespace"]), None)
                if current is None:
                    store.put_object(cert)
                elif current["spec"] != cert["spec"]:
                    store.put_object(dict(current, spec=cert["spec"]))

    # -- one Certificate ------------------------------------------------------------------
    def _reconcile(self, cert: dict, snapshot: Snapshot) -> bool:
        """Bring one Certificate forward; True when it is Ready and nothing is left to do."""
        meta, spec = cert["metadata"], cert.get("spec", {})
        key, names = (meta["namespace"], meta["name"]), tuple(spec.get("dnsNames", []))
        ref = spec.get("issuerRef", {})
        issuer = self._issuer(ref.get("kind", "Issuer"), ref.get("name", ""), meta["namespace"])
        secret = self._secret(meta["namespace"], spec.get("secretName", ""))
        reason, message = _secret_problem(secret, cert)
        if reason is None:
            if _condition(cert, "Ready").get("status") != "True":
                self._set_ready(cert, secret)
            return True
        self._set_status(cert, _pending_status(cert, reason, message))
        acme = (issuer or {}).get("spec", {}).get("acme", {})
        solver = next((s for s in acme.get("solvers", []) if "http01" in s), None)
        if not names or not acme.get("server") or solver is None:
            return False  # no issuer yet, or one the local stack cannot play (not ACME http01)
        expected = self._solver_load_balancer(solver, meta["namespace"])
        failures = {name: _self_check_failure(name, snapshot.resolve(name), expected, _token(cert, name))
                    for name in names}
        self._write_challenges(cert, acme, solver, failures)
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

    def _solver_load_balancer(self, solver: dict, namespace: str) -> str | None:
        """The load balancer the http01 solver's ingress class is served by: where a self check must land."""
        ingress = solver["http01"].get("ingress", {})
        cls = ingress.get("ingressClassName") or ingress.get("class")
        if not cls and ingress.get("name"):
            try:
                cls = ingress_class(self.ctx.store.get_object("networking.k8s.io/v1", "Ingress", namespace,
                                                              ingress["name"]))
            except ApiError:
                return None
        service = controller_services(self.ctx.store).get(cls or "")
        return load_balancer_hostname(service) if service else None

    def _write_challenges(self, cert: dict, acme: dict, solver: dict, failures: dict[str, str | None]) -> None:
        meta = cert["metadata"]
        server, order = _origin(acme["server"]), f"{meta['name']}-1-{_digits(meta['uid'])}"
        for name, failure in failures.items():
            token = _token(cert, name)
            challenge = {
                "apiVersion": ACME, "kind": "Challenge",
                "metadata": {"name": f"{order}-{_digits(name)}", "namespace": meta["namespace"],
                             "labels": {"acme.cert-manager.io/order-name": order}, "ownerReferences": [_owner(cert)]},
                "spec": {"dnsName": name, "type": "HTTP-01", "token": token, "key": f"{token}.local",
                         "url": f"{server}/acme/chall-v3/{_digits(token)}", "authorizationURL":
                         f"{server}/acme/authz-v3/{_digits(name + token)}", "wildcard": False,
                         "solver": solver, "issuerRef": cert["spec"].get("issuerRef", {})},
                "status": {"presented": True, "processing": failure is not None,
                           "state": "pending" if failure else "valid",
                           "reason": failure or "Successfully authorized domain"},
            }
            try:
                current = self.ctx.store.get_object(ACME, "Challenge", meta["namespace"], challenge["metadata"]["name"])
                if current.get("spec") == challenge["spec"] and current.get("status") == challenge["status"]:
                    continue
            except ApiError:
                pass
            self.ctx.store.put_object(challenge)

    def _issue(self, cert: dict, issuer: dict) -> None:
        meta, spec = cert["metadata"], cert["spec"]
        issued = self.ca.issue(list(spec["dnsNames"]))
        ref = spec.get("issuerRef", {})
        server = issuer.get("spec", {}).get("acme", {}).get("server", "")
        annotations = {
            "cert-manager.io/alt-names": ",".join(spec["dnsNames"]), "cert-manager.io/certificate-name": meta["name"],
            "cert-manager.io/common-name": spec.get("commonName", ""), "cert-manager.io/ip-sans": "",
            "cert-manager.io/uri-sans": "", "cert-manager.io/issuer-group": ref.get("group", "cert-manager.io"),
            "cert-manager.io/issuer-kind": ref.get("kind", "Issuer"),
            "cert-manager.io/issuer-name": ref.get("name", ""),
            ACME_SERVER_ANNOTATION: server,
        }
        self.ctx.store.put_object({
            "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": spec["secretName"], "namespace": meta["namespace"], "annotations": annotations,
                         "labels": {"controller.cert-manager.io/fao": "true"}},
            "data": {"tls.crt": _b64(issued.chain_pem), "tls.key": _b64(issued.key_pem), "ca.crt": _b64(issued.ca_pem)},
        })
        annotated = dict(meta, annotations={**meta.get("annotations", {}), ACME_SERVER_ANNOTATION: server})
        self.ctx.store.put_object(dict(self.ctx.store.get_object(CM, "Certificate", meta["namespace"], meta["name"]),
                                       metadata=annotated))
        self._verified.pop((meta["namespace"], meta["name"]), None)
        for challenge in self.ctx.store.list(self.ctx.store.resource_type(ACME, "Challenge"), meta["namespace"])[0]:
            if _owned_by(challenge, cert):
                self._delete(ACME, "Challenge", meta["namespace"], challenge["metadata"]["name"])
        current = self.ctx.store.get_object(CM, "Certificate", meta["namespace"], meta["name"])
        self._set_ready(current, self._secret(meta["namespace"], spec["secretName"]),
                        revision=current.get("status", {}).get("revision", 0) + 1,
                        validity=(issued.not_before, issued.not_after))

    def _set_ready(self, cert: dict, secret: dict, revision: int | None = None, validity=None) -> None:
        status = dict(cert.get("status", {}))
        status["conditions"] = [_new_condition("Ready", "True", "Ready",
                                               "Certificate is up to date and has not expired", cert)]
        if revision is not None:
            status["revision"] = revision
        if validity:
            fmt = "%Y-%m-%dT%H:%M:%SZ"
            status.update(notBefore=validity[0].strftime(fmt), notAfter=validity[1].strftime(fmt),
                          renewalTime=(validity[1] - (validity[1] - validity[0]) / 3).strftime(fmt))
        self._set_status(cert, status)

    # -- plumbing --------------------------------------------------------------------------
    def _issuer(self, kind: str, name: str, namespace: str) -> dict | None:
        try:
            return self.ctx.store.get_object(CM, kind, namespace if kind == "Issuer" else None, name)
        except ApiError:
            return None

    def _secret(self, namespace: str, name: str) -> dict | None:
        try:
            return self.ctx.store.get_object("v1", "Secret", namespace, name)
        except ApiError:
            return None

    def _set_status(self, obj: dict, status: dict) -> None:
        if obj.get("status") == status:
            return
        meta = obj["metadata"]
        try:
            self.ctx.store.set_status(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"], status)
        except ApiError as error:
            log.debug("status of %s %s not set: %s", obj["kind"], meta["name"], error)

    def _delete(self, api_version: str, kind: str, namespace: str, name: str) -> None:
        try:
            self.ctx.store.delete(self.ctx.store.resource_type(api_version, kind), namespace, name)
        except ApiError:
            pass

    def _recheck(self) -> None:
        self._recheck_scheduled = False
        self._wake.set()

    def _on_event(self, event) -> None:
        if event.key in WATCHED:
            self._wake.set()

    def _run(self) -> None:
        self._wake.set()
        while not self._stopping.is_set():
            if self._wake.wait(0.5) and not self._stopping.is_set():
                self._wake.clear()
                try:
                    self.sync()
                except Exception:  # noqa: BLE001 - the next change or re-check retries
                    log.exception("cert-manager pass failed in cluster %s", self.ctx.name)


def _shim_certificate(ingress: dict, tls: dict, issuer_kind: str, issuer_name: str) -> dict:
    meta = ingress["metadata"]
    labels = {k: v for k, v in meta.get("labels", {}).items() if k != "applyset.kubernetes.io/part-of"}
    return {
        "apiVersion": CM, "kind": "Certificate",
        "metadata": {"name": tls["secretName"], "namespace": meta["namespace"], "labels": labels,
                     "ownerReferences": [_owner(ingress)]},
        "spec": {"dnsNames": list(tls["hosts"]), "secretName": tls["secretName"],
                 "issuerRef": {"name": issuer_name, "kind": issuer_kind, "group": "cert-manager.io"},
                 "usages": ["digital signature", "key encipherment"]},
    }


def _secret_problem(secret: dict | None, cert: dict) -> tuple[str | None, str]:
    """Why the Secret does not (yet) hold this Certificate, as cert-manager's issuing reasons say; None if it does."""
    if secret is None:
        return "DoesNotExist", "Issuing certificate as Secret does not exist"
    annotations = secret["metadata"].get("annotations", {})
    if not secret.get("data", {}).get("tls.crt"):
        return "MissingData", "Issuing certificate as Secret does not contain a certificate"
    ref = cert["spec"].get("issuerRef", {})
    if annotations.get("cert-manager.io/issuer-name") != ref.get("name") \
            or annotations.get("cert-manager.io/issuer-kind") != ref.get("kind", "Issuer"):
        return "IncorrectIssuer", "Issuing certificate as Secret was previously issued by a different issuer"
    if annotations.get("cert-manager.io/alt-names") != ",".join(cert["spec"].get("dnsNames", [])):
        return "SecretMismatch", "Issuing certificate as Secret was previously issued for different DNS names"
    return None, ""


def _pending_status(cert: dict, reason: str, message: str) -> dict:
    status = {k: v for k, v in cert.get("status", {}).items() if k != "conditions"}
    status["conditions"] = [_new_condition("Ready", "False", reason, message, cert),
                            _new_condition("Issuing", "True", reason, message, cert)]
    return status


def _self_check_failure(name: str, resolved: str | None, expected: str | None, token: str) -> str | None:
    """What cert-manager's http01 self check reports for ``name``, or None when it would pass."""
    url = f"http://{name}/.well-known/acme-challenge/{token}"
    prefix = f"Waiting for HTTP-01 challenge propagation: failed to perform self check GET request '{url}'"
    if resolved is None:
        return f'{prefix}: Get "{url}": dial tcp: lookup {name} on 10.100.0.10:53: no such host'
    if expected is None:
        return f'{prefix}: Get "{url}": dial tcp {resolved}:80: connect: connection refused'
    if resolved != expected.rstrip(".").lower():
        return f"{prefix}: wrong status code '404', expected '200'"
    return None


def _condition(obj: dict, kind: str) -> dict:
    return next((c for c in obj.get("status", {}).get("conditions", []) if c.get("type") == kind), {})


def _new_condition(kind: str, status: str, reason: str, message: str, obj: dict) -> dict:
    """A condition that keeps its lastTransitionTime while its status stays the same (so passes settle)."""
    old = _condition(obj, kind)
    since = old["lastTransitionTime"] if old.get("status") == status and old.get("lastTransitionTime") else now_iso()
    return {"type": kind, "status": status, "reason": reason, "message": message, "lastTransitionTime": since,
            "observedGeneration": obj["metadata"].get("generation", 1)}


def _owned_by(obj: dict, owner: dict) -> bool:
    return any(o.get("uid") == owner["metadata"]["uid"] for o in obj["metadata"].get("ownerReferences", []))


def _owner(obj: dict) -> dict:
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def _token(cert: dict, name: str) -> str:
    return hashlib.sha256(f"{cert['metadata']['uid']}/{name}".encode()).hexdigest()[:43]


def _digits(text: str) -> str:
    return str(int(hashlib.sha256(text.encode()).hexdigest()[:8], 16))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
