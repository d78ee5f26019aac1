"""What a BinderHub release installed, as the stand-in reads it: config, builder, hub, registry login.

The chart's ``binder-secret`` (key ``values.yaml``: ``config``, ``imageBuilderType``, ``dind``, ``pink``) holds
BinderHub's config (``files/binderhub_config.py`` loads it); the JupyterHub subchart's Secret ``hub`` (key
``values.yaml``) the hub's; Secret ``binder-build-docker-config`` (key ``config.json``, ``_helpers.tpl``
``buildDockerConfig``) the login the build pods push with.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import yaml

from coursehub_local import ecr_push
from coursehub_local.cluster.binderhub_names import registry_of
from coursehub_local.kube.errors import ApiError

START_TIMEOUT = 300  # z2jh singleuser.startTimeout


@dataclass(frozen=True)
class Hub:
    """A BinderHub release and its JupyterHub, as their Secrets and objects say."""

    namespace: str
    release: str
    chart: str
    image_prefix: str
    builder_type: str
    hub_url: str
    memory_guarantee: object
    start_timeout: int
    singleuser_cmd: tuple[str, ...]
    cors_allow_origin: str


def _secret_values(store, namespace: str, name: str) -> dict:
    try:
        secret = store.get_object("v1", "Secret", namespace, name)
    except ApiError:
        return {}
    text = (secret.get("stringData") or {}).get("values.yaml")
    if text is None and (secret.get("data") or {}).get("values.yaml"):
        text = base64.b64decode(secret["data"]["values.yaml"]).decode()
    return yaml.safe_load(text or "") or {}


def _get(values: dict, path: str, default=None):
    for key in path.split("."):
        if not isinstance(values, dict) or key not in values:
            return default
        values = values[key]
    return values


def read_hub(store, namespace: str, release: str) -> Hub:
    """BinderHub's config from ``binder-secret`` and its hub's from Secret ``hub``; the hub's public URL is
    ``BinderHub.hub_url`` (what launcher.py uses), else ``https://`` + the host of the Ingress to ``proxy-public``."""
    binder, hub = _secret_values(store, namespace, "binder-secret"), _secret_values(store, namespace, "hub")
    hub_url = _get(binder, "config.BinderHub.hub_url") or ""
    if not hub_url:
        for ingress in store.list(store.resource_type("networking.k8s.io/v1", "Ingress"), namespace)[0]:
            for rule in (ingress.get("spec") or {}).get("rules") or []:
                services = {((p.get("backend") or {}).get("service") or {}).get("name")
                            for p in ((rule.get("http") or {}).get("paths") or [])}
                if "proxy-public" in services and rule.get("host"):
                    hub_url = hub_url or f"https://{rule['host']}"
    chart = _get(hub, "Chart", {})
    return Hub(namespace, release, f"{chart.get('Name', 'jupyterhub')}-{chart.get('Version', '')}",
               _get(binder, "config.BinderHub.image_prefix") or "", binder.get("imageBuilderType") or "host",
               hub_url.rstrip("/") + "/", _get(hub, "singleuser.memory.guarantee"),
               int(_get(hub, "singleuser.startTimeout") or START_TIMEOUT),
               tuple(_get(hub, "singleuser.cmd") or ()),
               _get(hub, "hub.config.BinderSpawner.cors_allow_origin") or "")


def builder_ready(store, hub: Hub) -> bool:
    """Whether a build pod finds a builder socket: the chart's DaemonSet ``<release>-<imageBuilderType>``
    (templates/container-builder/daemonset.yaml) has a ready pod. With ``imageBuilderType: host`` the build mounts
    the node's /var/run/docker.sock, which an EKS AL2023 node (containerd only) does not have."""
    if hub.builder_type not in ("dind", "pink"):
        return False
    try:
        daemonset = store.get_object("apps/v1", "DaemonSet", hub.namespace, f"{hub.release}-{hub.builder_type}")
    except ApiError:
        return False
    return ((daemonset.get("status") or {}).get("numberReady") or 0) > 0


def push(store, hub: Hub, image: str, now) -> str | None:
    """Push ``image`` with Secret ``binder-build-docker-config``; the registry's refusal text, or None."""
    host = registry_of(image)
    if ecr_push.REGISTRY_HOST.fullmatch(host):
        try:
            ecr_push.push_from_store(store, image, now, hub.namespace)  # creates the repository and image in ECR
        except (ApiError, KeyError, ValueError):  # no Secret, or no config.json in it: docker has no login
            return "no basic auth credentials"
        except ecr_push.RegistryRefusal as refusal:
            return str(refusal)
        return None
    try:
        secret = store.get_object("v1", "Secret", hub.namespace, "binder-build-docker-config")
        config = json.loads(base64.b64decode((secret.get("data") or {}).get("config.json") or "e30="))
    except (ApiError, ValueError):
        config = {}
    auths = {ecr_push.registry_host(url): entry for url, entry in (config.get("auths") or {}).items()}
    if not (auths.get(host) or {}).get("auth"):
        # What docker prints when it has no login for DockerHub (or another registry) and the push is refused.
        return "denied: requested access to the resource is denied"
    return None
