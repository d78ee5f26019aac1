"""Where a hub's BinderHub keeps the images it builds: the account's Amazon ECR (the default), or DockerHub.

With ECR there is no account or password to share and rotate, and a course's images stay in the account that
pays for them. BinderHub itself has no ECR support (jupyterhub/binderhub #705, #1055), for two reasons this
module answers without a helper service in the cluster:

- **A repository must exist before a push.** A repository creation template for the hub's prefix
  ``coursehub-<stage>/<course id>``, applied to ``CREATE_ON_PUSH`` (botocore's ECR model, ``RCTAppliedFor``),
  lets a build's first push create its repository, tagged like the hub's other resources (ECR assumes the
  stage's repository creation role to tag it: ECR user guide, "Repository creation templates"), with a
  lifecycle policy that keeps the newest ``images_per_repository`` images.
- **ECR logins are 12-hour tokens** (``GetAuthorizationToken``; ECR user guide, "Private registry
  authentication"). The install puts a fresh login in the chart's values; the hub's ``registry-login``
  schedule renews it every ``LOGIN_RENEWAL`` into the Secret the builds mount (``binder-build-docker-config``,
  binderhub chart ``templates/secret.yaml``, in the chart's ``buildDockerConfig`` format) and restarts
  BinderHub, which reads that file once, when it starts (binderhub ``registry.py``, ``_load_docker_config``).

The login's password never leaves the function that asked for it but in the chart's values and that Secret.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

REGISTRIES = ("ecr", "dockerhub")
DOCKER_CONFIG_SECRET = "binder-build-docker-config"  # binderhub chart templates/secret.yaml
BINDERHUB_DEPLOYMENT = "binder"  # binderhub chart templates/deployment.yaml
ECR_USERNAME = "AWS"  # the user name of every ECR login (ECR user guide, "Private registry authentication")
LOGIN_HOURS = 12  # how long an ECR login lasts
LOGIN_RENEWAL = "rate(6 hours)"  # a missed run (the Scheduler retries for an hour) still leaves 5 hours to go


@dataclass(frozen=True)
class RegistryLogin:
    """What a build pushes with: the docker config's key (the registry's URL), a user name and a password."""

    url: str
    username: str
    password: str
    expires_at: str = ""  # ISO 8601; empty for a login that does not expire (DockerHub's)

    @property
    def host(self) -> str:
        return urlparse(self.url if "://" in self.url else f"https://{self.url}").hostname or self.url


def repository_prefix(stage: str, course_id: str) -> str:
    """What every ECR repository of the course's hub is named under (its creation template's prefix)."""
    return f"coursehub-{stage}/{course_id}"


def ecr_image_prefix(host: str, stage: str, course_id: str) -> str:
    """BinderHub's ``image_prefix`` with ECR: the registry host and the hub's repository prefix."""
    return f"{host}/{repository_prefix(stage, course_id)}/"


def lifecycle_policy(images: int) -> dict:
    """Keep the newest ``images`` images of each repository (ECR lifecycle policy, ``imageCountMoreThan``)."""
    return {"rules": [{
        "rulePriority": 1, "description": f"keep the newest {images} images",
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": images},
        "action": {"type": "expire"},
    }]}


def template(prefix: str, tags: dict[str, str], images: int, creation_role_arn: str) -> dict:
    """The repository creation template's parameters (Create/UpdateRepositoryCreationTemplate)."""
    return {
        "prefix": prefix,
        "description": f"CourseHub images of {prefix}, created on push"[:256],
        "appliedFor": ["CREATE_ON_PUSH"],
        "imageTagMutability": "MUTABLE",  # BinderHub pushes a rebuilt image under the same tag after a failed push
        "encryptionConfiguration": {"encryptionType": "AES256"},
        "resourceTags": [{"Key": key, "Value": value} for key, value in tags.items()],
        "lifecyclePolicy": json.dumps(lifecycle_policy(images)),
        "customRoleArn": creation_role_arn,
    }


def prepare(ecr: Any, prefix: str, tags: dict[str, str], images: int, creation_role_arn: str) -> dict:
    """Create the hub's repository creation template, or bring an existing one up to date (idempotent)."""
    parameters = template(prefix, tags, images, creation_role_arn)
    try:
        ecr.create_repository_creation_template(**parameters)
        action = "created"
    except ecr.exceptions.TemplateAlreadyExistsException:
        ecr.update_repository_creation_template(**parameters)
        action = "updated"
    return {"prefix": prefix, "template": action, "images_per_repository": images}


def login(ecr: Any) -> RegistryLogin:
    """A fresh ECR login of the caller's account (valid ``LOGIN_HOURS``)."""
    data = ecr.get_authorization_token()["authorizationData"][0]
    username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    expires = data.get("expiresAt")
    return RegistryLogin(data["proxyEndpoint"], username, password,
                         expires.isoformat(timespec="seconds") if hasattr(expires, "isoformat") else str(expires or ""))


def docker_config(registry: RegistryLogin) -> dict:
    """The docker ``config.json`` the builds push with, as the chart renders it (``buildDockerConfig``)."""
    auth = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
    return {"auths": {registry.url: {"auth": auth}}}


def docker_config_secret(registry: RegistryLogin, namespace: str) -> dict:
    """The Secret BinderHub and its builds read the login from."""
    encoded = base64.b64encode(json.dumps(docker_config(registry), indent=2).encode()).decode()
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": DOCKER_CONFIG_SECRET, "namespace": namespace},
            "data": {"config.json": encoded}}


def renew(runner: Any, registry: RegistryLogin, namespace: str, restarted_at: str) -> dict:
    """Write ``registry`` into the builds' Secret and restart BinderHub so that it reads it too.

    The restart is ``kubectl rollout restart``'s pod-template annotation, set here to ``restarted_at``: the same
    value again is no change, so a retried renewal does not fail as ``rollout restart`` does within a second of the
    last restart ("if restart has already been triggered within the past second").
    """
    from chalicelib import releases

    releases.apply_manifest(runner, docker_config_secret(registry, namespace))
    patch = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": restarted_at}}}}}
    runner.kubectl("patch", "deployment", BINDERHUB_DEPLOYMENT, "-n", namespace, "--type", "strategic",
                   "-p", json.dumps(patch))
    return {"secret": DOCKER_CONFIG_SECRET, "registry": registry.host, "restarted": BINDERHUB_DEPLOYMENT}


def repositories(ecr: Any, prefix: str) -> list[str]:
    """Names of the repositories under ``prefix``."""
    names = []
    for page in ecr.get_paginator("describe_repositories").paginate():
        names += [r["repositoryName"] for r in page["repositories"] if r["repositoryName"].startswith(prefix + "/")]
    return sorted(names)


def remove(ecr: Any, prefix: str, keep_images: bool) -> dict:
    """Delete the hub's creation template, then its repositories with their images (unless ``keep_images``).

    The template goes first, so that no push meanwhile creates a repository. Either already gone counts as
    deleted.
    """
    try:
        ecr.delete_repository_creation_template(prefix=prefix)
        template_state = "deleted"
    except ecr.exceptions.TemplateNotFoundException:
        template_state = "already gone"
    names = repositories(ecr, prefix)
    if keep_images:
        return {"prefix": prefix, "template": template_state, "kept": names, "deleted": []}
    for name in names:
        try:
            ecr.delete_repository(repositoryName=name, force=True)  # force: with its images
        except ecr.exceptions.RepositoryNotFoundException:
            pass
    return {"prefix": prefix, "template": template_state, "kept": [], "deleted": names}

