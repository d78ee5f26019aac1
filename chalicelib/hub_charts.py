"""A hub's three releases: which chart, release and namespace each is, and how it is installed and watched.

The helm function installs one release per call (no ``--wait``); readiness is
checked by separate calls that raise named not-ready errors, so the state
machine does the waiting.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from chalicelib import charts, image_registry, releases, values
from chalicelib.errors import CourseHubError
from chalicelib.hub_request import HubRequest
from chalicelib.runner import Runner
from chalicelib.secrets import read_secret

HUB_NAMESPACE = "binderhub"


class CertificatesNotReady(CourseHubError):
    """Some certificate is not issued yet; the message carries the pending challenges' reasons."""


class IngressNotReady(CourseHubError):
    """The ingress controller's Service does not exist yet."""


@dataclass(frozen=True)
class Release:
    """One release of a hub."""

    key: str  # the request's chart_versions field
    chart: charts.Chart
    name: str
    namespace: str
    values: Callable[..., dict]
    hook_seconds: float = 0  # what helm may wait on the chart's hook Jobs, beyond the usual timeout


# cert-manager's post-install hook Job ``startupapicheck`` (templates/startupapicheck-job.yaml) runs
# ``check api --wait=1m`` with ``backoffLimit: 4`` (values.yaml ``startupapicheck``), and helm's install
# returns only when it has completed: up to five one-minute attempts on a node group that just came up.
CERT_MANAGER_HOOK_SECONDS = 5 * 60


RELEASES = {
    "ingress": Release("ingress", charts.INGRESS, "nginx-ingress", "ingress", values.ingress_values),
    "cert_manager": Release("cert_manager", charts.CERT_MANAGER, "cert-manager", "cert-manager",
                            values.cert_manager_values, hook_seconds=CERT_MANAGER_HOOK_SECONDS),
    "binderhub": Release("binderhub", charts.BINDERHUB, "binderhub", HUB_NAMESPACE, values.binderhub_values),
}


def chart_secrets(clients: Any, request: HubRequest, stage: str) -> values.ChartSecrets:
    """The registry login (a fresh one from ECR, or DockerHub's JSON ``username``/``password`` read by ARN) and the
    GitHub token."""
    secretsmanager = clients("secretsmanager")
    if request.registry == "ecr":
        login = image_registry.login(clients("ecr"))
        prefix = image_registry.ecr_image_prefix(login.host, stage, request.course_id)
    else:
        login = image_registry.RegistryLogin(
            "", read_secret(secretsmanager, request.dockerhub_secret_arn, key="username"),
            read_secret(secretsmanager, request.dockerhub_secret_arn, key="password"))
        prefix = request.image_prefix
    return values.ChartSecrets(login, prefix, read_secret(secretsmanager, request.github_token_secret_arn))


def install(runner: Runner, key: str, request: HubRequest, *, chart_repository: str | None,
            secrets: values.ChartSecrets | None = None, tags: dict[str, str] | None = None,
            timeout_s: float = 120) -> dict:
    """Install or upgrade one of the hub's releases at the request's pinned version; hook Jobs get their time.

    ``tags`` (the hub's) are what the ingress controller's load balancer is tagged with.
    """
    release = RELEASES[key]
    chart = charts.Chart(release.chart.name, release.chart.repository,
                         getattr(request.chart_versions, release.key))
    generated = (release.values(request, secrets) if key == "binderhub" else
                 release.values(request, tags) if key == "ingress" else release.values(request))
    status = releases.install_or_upgrade(runner, release.name, release.namespace,
                                         chart.reference(chart_repository), generated,
                                         timeout_s + release.hook_seconds)
    if key == "binderhub":
        releases.apply_manifest(runner, values.issuer(request, release.namespace))
    return {"release": release.name, "namespace": release.namespace, "version": chart.version,
            "revision": (status or {}).get("revision"), "status": (status or {}).get("status")}


def ingress_service(runner: Runner) -> dict:
    """The nginx-ingress controller's LoadBalancer Service."""
    release = RELEASES["ingress"]
    listed = json.loads(runner.kubectl("get", "services", "-n", release.namespace, "-o", "json",
                                       "-l", f"app.kubernetes.io/instance={release.name}"))["items"]
    balancers = [s for s in listed if s.get("spec", {}).get("type") == "LoadBalancer"]
    if not balancers:
        raise IngressNotReady(f"no LoadBalancer Service of release {release.name} yet")
    return balancers[0]


def check_certificates(runner: Runner) -> list[str]:
    """Names of the hub's certificates once all are Ready; CertificatesNotReady with the reasons otherwise."""
    items = json.loads(runner.kubectl("get", "certificates", "-n", HUB_NAMESPACE, "-o", "json"))["items"]
    if not items:
        raise CertificatesNotReady("no certificates requested yet")
    pending = [c["metadata"]["name"] for c in items if not _ready(c)]
    if pending:
        challenges = json.loads(runner.kubectl("get", "challenges", "-n", HUB_NAMESPACE, "-o", "json"))["items"]
        reasons = sorted({c.get("status", {}).get("reason", "") for c in challenges} - {""})
        raise CertificatesNotReady(f"not ready: {', '.join(pending)}" + (f"; {' | '.join(reasons)}" if reasons else ""))
    return [c["metadata"]["name"] for c in items]


def _ready(certificate: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in certificate.get("status", {}).get("conditions", []))
