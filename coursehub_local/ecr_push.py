"""A docker push to Amazon ECR from a build pod, accepted or refused as ECR would.

``push_image`` checks the docker config's credentials against the tokens the registry issued (``ecr_registry``),
creates the repository from its ``CREATE_ON_PUSH`` creation template when there is none, and puts a small OCI image
into moto's ECR, so ``describe_images`` sees it. Every rule names its source; a refusal raises ``RegistryRefusal``
with the text docker prints.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from coursehub_local import moto_patches
from coursehub_local.ecr_registry import Registry

# "The Amazon ECR registry URL format is https://aws_account_id.dkr.ecr.region.amazonaws.com" (API reference,
# AuthorizationData.proxyEndpoint).
REGISTRY_HOST = re.compile(r"^(?P<account>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com$")
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"  # OCI image-spec, manifest.md


class RegistryRefusal(Exception):
    """The registry refused a push; ``str()`` is what docker prints (``<code>: <message>``)."""

    def __init__(self, code: str, status: int, message: str):
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class PushedImage:
    """What a push stored: where, under which tag and digest, and whether the push created the repository."""

    registry_id: str
    region: str
    repository_name: str
    image_tag: str
    image_digest: str
    created_repository: bool


def parse_image(image_ref: str) -> tuple[str, str, str]:
    """(registry host, repository, tag) of ``host/repository[:tag]``; docker's default tag is ``latest``."""
    host, _, rest = image_ref.partition("/")
    if not rest or "." not in host:
        raise ValueError(f"{image_ref!r} names no registry host")
    if "@" in rest:
        raise ValueError(f"{image_ref!r}: a push names a tag, not a digest")
    repository, _, tag = rest.rpartition(":") if ":" in rest.rsplit("/", 1)[-1] else (rest, "", "latest")
    return host, repository, tag


def registry_host(url: str) -> str:
    """The host an ``auths`` key of a docker config names: docker/cli ``config/credentials`` ``ConvertToHostname``
    strips the scheme and any path, so ``https://<host>`` and ``<host>/v1/`` both name ``<host>``."""
    return re.sub(r"^https?://", "", url).split("/", 1)[0]


def _password_for(host: str, docker_config: dict) -> str:
    auths = {registry_host(url): entry for url, entry in (docker_config.get("auths") or {}).items()}
    entry = auths.get(host) or {}
    if not entry.get("auth"):
        # ECR user guide, "Troubleshooting Docker commands": 'HTTP 403 Errors or "no basic auth credentials"
        # error when pushing to repository' - docker has no credentials for this registry.
        raise RegistryRefusal("no basic auth credentials", 401, "")
    user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
    if user != "AWS":
        # "docker login --username AWS --password-stdin" (user guide, "Private registry authentication"): ECR's
        # tokens are for the user AWS; anything else is not a credential ECR gave. OCI distribution-spec
        # error code DENIED, "requested access to the resource is denied", HTTP 403.
        raise RegistryRefusal("denied", 403, "requested access to the resource is denied")
    return password


def push_image(image_ref: str, docker_config: dict, now: datetime) -> PushedImage:
    """Push ``image_ref`` (``<account>.dkr.ecr.<region>.amazonaws.com/<repository>[:tag]``) with ``docker_config``
    (``{"auths": {url: {"auth": base64("AWS:<password>")}}}``) at stack time ``now``, as ECR accepts or refuses it."""
    host, repository, tag = parse_image(image_ref)
    match = REGISTRY_HOST.fullmatch(host)
    if match is None:
        raise ValueError(f"{host!r} is not an Amazon ECR private registry")
    account, region = match["account"], match["region"]
    registry = moto_patches.ecr_registry(account, region)
    token = registry.issued(_password_for(host, docker_config))
    if token is None:
        # A token this registry (account and region) did not issue: ECR answers HTTP 403 ("Troubleshooting Docker
        # commands": 'HTTP 403 Errors ... You have authenticated to a different region'); OCI DENIED.
        raise RegistryRefusal("denied", 403, "requested access to the resource is denied")
    if now >= token.expires_at:
        # What ECR answers a push with an expired token (user guide, "Troubleshooting Docker commands", HTTP 403:
        # "Your authorization token has expired").
        raise RegistryRefusal("denied", 403, "Your authorization token has expired. Reauthenticate and try again.")
    created = _ensure_repository(registry, repository)
    return _put(account, region, repository, tag, created)


def push_from_store(store: Any, image_ref: str, now: datetime, namespace: str = "binderhub") -> PushedImage:
    """Push as a BinderHub build pod does: with the docker config of Secret ``binder-build-docker-config``.

    The BinderHub chart's ``templates/secret.yaml`` renders that Secret, key ``config.json``, from ``_helpers.tpl``
    ``buildDockerConfig``: ``{"auths": {<registry.url>: {"auth": b64(<username>:<password>)}}}``; its
    ``deployment.yaml`` mounts it for the builds. ``store`` is a local cluster's Kubernetes object store.
    """
    secret = store.get_object("v1", "Secret", namespace, "binder-build-docker-config")
    config = json.loads(base64.b64decode(secret.get("data", {})["config.json"]))
    return push_image(image_ref, config, now)


def image_pushed(image_ref: str) -> bool:
    """Whether ECR holds ``image_ref`` (``<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>``): what
    BinderHub's registry manifest lookup finds before it decides to build."""
    host, repository, tag = parse_image(image_ref)
    match = REGISTRY_HOST.fullmatch(host)
    if match is None:
        raise ValueError(f"{host!r} is not an Amazon ECR private registry")
    return moto_patches.ecr_has_image(match["account"], match["region"], repository, tag)


def _ensure_repository(registry: Registry, repository: str) -> bool:
    """Whether the push creates the repository (from its CREATE_ON_PUSH template); refuse if it may not."""
    if moto_patches.ecr_has_repository(registry.account, registry.region, repository):
        return False
    template = registry.template_for(repository, "CREATE_ON_PUSH")
    if template is None:
        # What ECR answers a push to a repository that does not exist (docker's "name unknown", OCI NAME_UNKNOWN;
        # text as ECR gives it, e.g. aws-actions/amazon-ecr-login#166). A repository is created on push only from
        # a template applied for CREATE_ON_PUSH (botocore's ECR model, RCTAppliedFor).
        raise RegistryRefusal("name unknown", 404, f"The repository with name '{repository}' does not exist in "
                                                   f"the registry with id '{registry.account}'")
    # The template's settings become the repository's ("All repositories created using this namespace prefix will
    # have the settings defined in this template applied", CreateRepositoryCreationTemplate prefix).
    moto_patches.ecr_create_repository(registry.account, registry.region, repository, template)
    return True


def _put(account: str, region: str, repository: str, tag: str, created: bool) -> PushedImage:
    """Store a small OCI image (a fresh layer each push, as a new build has) under ``tag``."""
    layer = "sha256:" + hashlib.sha256(secrets.token_bytes(32)).hexdigest()
    config = "sha256:" + hashlib.sha256(layer.encode()).hexdigest()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_TYPE,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config,
                                      "size": 2},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                       "digest": layer, "size": 32}]}, separators=(",", ":"))
    digest = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()  # OCI: the digest of the manifest's bytes
    try:
        moto_patches.ecr_put_image(account, region, repository, manifest, tag, MANIFEST_TYPE, digest)
    except moto_patches.ecr_service_error() as error:
        if getattr(error, "code", "") not in ("ImageAlreadyExistsException", "ImageTagAlreadyExistsException"):
            raise
        # ECR user guide, "Preventing image tags from being overwritten": a push of an existing tag to an
        # immutable repository fails with "tag invalid: The image tag '...' already exists in the '...' repository
        # and cannot be overwritten because the repository is immutable."
        raise RegistryRefusal("tag invalid", 400, f"The image tag '{tag}' already exists in the '{repository}' "
                                                  "repository and cannot be overwritten because the repository is "
                                                  "immutable.") from None
    return PushedImage(account, region, repository, tag, digest, created)
