"""Helm values for a hub's charts, generated from its request.

Only the BinderHub values carry secrets (the registry login, ECR's or DockerHub's,
and the GitHub token); they are filled in by the function that runs helm, written
to a private file and never returned. ``ChartSecrets.placeholders()`` gives printable values.
Settings follow the current charts, not the old guide: see the removed keys in
``REMOVED_SETTINGS`` (the chart's NOTES.txt fails on them).
"""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib import hub_names, image_registry
from chalicelib.hub_request import HubRequest
from chalicelib.image_registry import RegistryLogin

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
ADDITIONAL_TAGS_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags"
# Services the hub Ingresses route to, as the pinned charts name them: binderhub templates/ingress.yaml
# (Service "binder") and its jupyterhub subchart's templates/ingress.yaml ("jupyterhub.proxy-public.fullname",
# "proxy-public" with the chart's empty fullnameOverride).
BINDER_SERVICE, PROXY_SERVICE = "binder", "proxy-public"


def f5_ingress_annotations(websocket_service: str) -> dict:
    """What a hub Ingress needs on F5 NGINX Ingress (nginx/kubernetes-ingress internal/configs/annotations.go)."""
    return {
        # F5 lets only the oldest Ingress own a host, so cert-manager's own http01 solver Ingress is
        # rejected; edit in place adds the challenge path to this Ingress instead (cert-manager #5048;
        # 2i2c-org/infrastructure #8016, helm-charts/basehub/values.yaml).
        "acme.cert-manager.io/http01-edit-in-place": "true",
        # Upgrade/Connection are passed only for the Services listed here: Jupyter kernels use
        # WebSockets through proxy-public (nginx/kubernetes-ingress examples/ingress-resources/websocket).
        "nginx.org/websocket-services": websocket_service,
        # The default is 1m; Jupyter server saves a notebook by PUT of the whole file.
        "nginx.org/client-max-body-size": "64m",
        # Buffered, BinderHub's build-log EventSource stalls (2i2c basehub sets this off too).
        "nginx.org/proxy-buffering": "false",
        # The default 60s cuts a kernel channel or build log that is quiet for a minute; 2i2c's basehub
        # uses 120s, an hour leaves room for long quiet builds and idle kernels.
        "nginx.org/proxy-read-timeout": "3600s",
        "nginx.org/proxy-send-timeout": "3600s",
    }


@dataclass(frozen=True)
class ChartSecrets:
    """What BinderHub's chart needs that only the helm function reads: the registry login (a fresh ECR login, or
    DockerHub's from Secrets Manager), where images go in that registry, and the GitHub token."""

    registry: RegistryLogin
    image_prefix: str
    github_token: str

    @classmethod
    def placeholders(cls, request: HubRequest, stage: str = "STAGE") -> "ChartSecrets":
        """Printable stand-ins: the account's registry and the secrets are known only when the workflow runs."""
        token = "<from github_token_secret_arn>"
        if request.registry == "dockerhub":
            return cls(RegistryLogin("", "<dockerhub-username>", "<from dockerhub_secret_arn>"),
                       request.image_prefix or "", token)
        host = "ACCOUNT.dkr.ecr.REGION.amazonaws.com"
        return cls(RegistryLogin(f"https://{host}", image_registry.ECR_USERNAME, "<ECR login, renewed every 6 hours>"),
                   image_registry.ecr_image_prefix(host, stage, request.course_id), token)


def ingress_values(request: HubRequest, tags: dict[str, str] | None = None) -> dict:
    """F5 nginx-ingress: the only LoadBalancer Service of the hub, http first, health check on port 80.

    ``tags`` (the hub's, hub_names.tags) go on the load balancer and its security group: cloud-provider-aws tags
    both with the Service's ``aws-load-balancer-additional-resource-tags`` (``pkg/providers/v1/aws.go``
    ``buildELBSecurityGroupList`` and ``aws_loadbalancer.go``); the audit may delete only what carries its stage's
    tag (.chalice/policy-audit-hub.json).
    """
    annotations = dict(HEALTH_CHECK_ANNOTATIONS)
    if tags:
        annotations[ADDITIONAL_TAGS_ANNOTATION] = hub_names.annotation_value(tags)
    return {"controller": {
        "ingressClass": {"name": INGRESS_CLASS, "create": True},
        "service": {"type": "LoadBalancer", "annotations": annotations},
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
    """BinderHub and its JupyterHub: the registry (ECR or DockerHub), GitHub token, CORS on both, culling, TLS
    ingresses. ``registry.url`` is left to the chart's default (DockerHub's) unless the login names another."""
    tls_annotations = {"cert-manager.io/issuer": ISSUER_NAME}
    # BinderHub's own page streams build logs over EventSource; listing "binder" is harmless and keeps
    # both Ingresses alike.
    binder_annotations = {**tls_annotations, **f5_ingress_annotations(BINDER_SERVICE)}
    hub_annotations = {**tls_annotations, **f5_ingress_annotations(PROXY_SERVICE)}
    return {
        "service": {"type": "ClusterIP"},
        "registry": {**({"url": secrets.registry.url} if secrets.registry.url else {}),
                     "username": secrets.registry.username, "password": secrets.registry.password},
        "imageBuilderType": request.image_builder,
        "config": {
            "BinderHub": {
                "use_registry": True,
                "image_prefix": secrets.image_prefix,
                "hub_url": f"https://{request.hub}",
                "cors_allow_origin": request.cors_origin,
            },
            "GitHubRepoProvider": {"access_token": secrets.github_token},
        },
        "ingress": {
            "enabled": True, "ingressClassName": INGRESS_CLASS, "annotations": binder_annotations,
            "hosts": [request.binder], "tls": [{"secretName": "binder-tls", "hosts": [request.binder]}],
        },
        "jupyterhub": {
            "proxy": {"service": {"type": "ClusterIP"}},
            "hub": {"config": {"BinderSpawner": {"cors_allow_origin": request.cors_origin}}},
            "cull": {"enabled": True, "timeout": request.culling.timeout, "every": request.culling.every,
                     "maxAge": request.culling.max_age},
            # The BinderHub chart sets no guarantee (null removes the JupyterHub chart's 1G): a request may ask
            # for one, which KubeSpawner turns into the user pod's memory request.
            **({"singleuser": {"memory": {"guarantee": request.user_memory}}} if request.user_memory else {}),
            "ingress": {
                "enabled": True, "ingressClassName": INGRESS_CLASS, "annotations": hub_annotations,
                "hosts": [request.hub], "tls": [{"secretName": "hub-tls", "hosts": [request.hub]}],
            },
        },
    }
