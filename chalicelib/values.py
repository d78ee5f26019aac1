"""Helm values for a hub's charts, generated from its request.

Only the BinderHub values carry secrets (the DockerHub password and the GitHub
token); they are filled in by the function that runs helm, written to a private
file and never returned. ``ChartSecrets.placeholders()`` gives printable values.
Settings follow the current charts, not the old guide: see the removed keys in
``REMOVED_SETTINGS`` (the chart's NOTES.txt fails on them).
"""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.hub_request import HubRequest

INGRESS_CLASS = "nginx"
ISSUER_NAME = "letsencrypt"
ACME_SERVERS = {
    False: "https://acme-v02.api.letsencrypt.org/directory",
    True: "https://acme-staging-v02.api.letsencrypt.org/directory",
}
# Settings the BinderHub chart removed (binderhub templates/NOTES.txt fails on them).
REMOVED_SETTINGS = (
    ("cors", "allowOrigin"), ("jupyterhub", "custom", "cors"), ("hub",), ("github",), ("gitlab",), ("build",),
    ("perRepoQuota",), ("registry", "enabled"), ("registry", "host"), ("registry", "authHost"),
    ("registry", "tokenUrl"), ("registry", "prefix"), ("dind", "enabled"), ("imageCleaner", "host", "enabled"),
    ("imageCleaner", "host", "dockerSocket"),
)
# The ELB health check must probe the NodePort behind port 80 (z2jh issue #1637);
# cloud-provider-aws re-syncs it to these annotations, so a manual fix would not last.
HEALTH_CHECK_ANNOTATIONS = {
    "service.beta.kubernetes.io/aws-load-balancer-healthcheck-port": "traffic-port",
    "service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol": "TCP",
}


@dataclass(frozen=True)
class ChartSecrets:
    """Secret values BinderHub's chart needs, read from Secrets Manager by the helm function only."""

    registry_username: str
    registry_password: str
    github_token: str

    @classmethod
    def placeholders(cls) -> "ChartSecrets":
        return cls("<dockerhub-username>", "<from dockerhub_secret_arn>", "<from github_token_secret_arn>")


def ingress_values(request: HubRequest) -> dict:
    """F5 nginx-ingress: the only LoadBalancer Service of the hub, http first, health check on port 80."""
    return {"controller": {
        "ingressClass": {"name": INGRESS_CLASS, "create": True},
        "service": {"type": "LoadBalancer", "annotations": dict(HEALTH_CHECK_ANNOTATIONS)},
    }}


def cert_manager_values(request: HubRequest) -> dict:
    """cert-manager with its CRDs."""
    return {"crds": {"enabled": True}}


def issuer(request: HubRequest, namespace: str) -> dict:
    """The Let's Encrypt Issuer (staging for rehearsals), solving http01 through the ingress."""
    return {
        "apiVersion": "cert-manager.io/v1", "kind": "Issuer",
        "metadata": {"name": ISSUER_NAME, "namespace": namespace},
        "spec": {"acme": {
            "server": ACME_SERVERS[request.acme_staging],
            "email": request.acme_email,
            "privateKeySecretRef": {"name": f"{ISSUER_NAME}-account-key"},
            "solvers": [{"http01": {"ingress": {"ingressClassName": INGRESS_CLASS}}}],
        }},
    }


def binderhub_values(request: HubRequest, secrets: ChartSecrets) -> dict:
    """BinderHub and its JupyterHub: DockerHub registry, GitHub token, CORS on both, culling, TLS ingresses."""
    tls_annotations = {"cert-manager.io/issuer": ISSUER_NAME}
    return {
        "service": {"type": "ClusterIP"},
        "registry": {"username": secrets.registry_username, "password": secrets.registry_password},
        "imageBuilderType": request.image_builder,
        "config": {
            "BinderHub": {
                "use_registry": True,
                "image_prefix": request.image_prefix,
                "hub_url": f"https://{request.hub}",
                "cors_allow_origin": request.cors_origin,
            },
            "GitHubRepoProvider": {"access_token": secrets.github_token},
        },
        "ingress": {
            "enabled": True, "ingressClassName": INGRESS_CLASS, "annotations": tls_annotations,
            "hosts": [request.binder], "tls": [{"secretName": "binder-tls", "hosts": [request.binder]}],
        },
        "jupyterhub": {
            "proxy": {"service": {"type": "ClusterIP"}},
            "hub": {"config": {"BinderSpawner": {"cors_allow_origin": request.cors_origin}}},
            "cull": {"enabled": True, "timeout": request.culling.timeout, "every": request.culling.every,
                     "maxAge": request.culling.max_age},
            "ingress": {
                "enabled": True, "ingressClassName": INGRESS_CLASS, "annotations": tls_annotations,
                "hosts": [request.hub], "tls": [{"secretName": "hub-tls", "hosts": [request.hub]}],
            },
        },
    }
