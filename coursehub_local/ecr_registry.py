"""Amazon ECR beyond moto: repository creation templates, 12-hour authorization tokens, pushes ECR accepts or refuses.

moto 5.2.5 has no creation templates and issues one fixed token that expired in 2015. Here each account's registry
in each region (``Registry``, kept on moto's ECR backend by ``moto_patches.ecr_registry`` so a reset forgets it)
holds its templates and the tokens it issued; ``push_image`` plays a docker push from a build pod: it checks the
docker config's credentials, creates the repository from a ``CREATE_ON_PUSH`` template when there is none, and puts
the image into moto's ECR, so ``describe_images`` sees it. Every rule names its source; a refusal raises
``RegistryRefusal`` with the text docker prints.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from coursehub_local import moto_patches

# "The authorization token is valid for 12 hours." (ECR API reference, GetAuthorizationToken; user guide,
# "Private registry authentication").
TOKEN_VALIDITY = timedelta(hours=12)
# botocore's ECR model (ecr/2015-09-21/service-2.json): shapes Prefix, RCTAppliedFor, ImageTagMutability,
# EncryptionType.
PREFIX_PATTERN = r"^([a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*\/?|ROOT)$"
APPLIED_FOR = ("REPLICATION", "PULL_THROUGH_CACHE", "CREATE_ON_PUSH")
TAG_MUTABILITY = ("MUTABLE", "IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION", "MUTABLE_WITH_EXCLUSION")
ENCRYPTION_TYPES = ("AES256", "KMS", "KMS_DSSE")
# The members of CreateRepositoryCreationTemplateRequest besides prefix (botocore's ECR model).
TEMPLATE_FIELDS = ("description", "encryptionConfiguration", "resourceTags", "imageTagMutability",
                   "imageTagMutabilityExclusionFilters", "repositoryPolicy", "lifecyclePolicy", "appliedFor",
                   "customRoleArn")
# "The Amazon ECR registry URL format is https://aws_account_id.dkr.ecr.region.amazonaws.com" (API reference,
# AuthorizationData.proxyEndpoint).
REGISTRY_HOST = re.compile(r"^(?P<account>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com$")
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"  # OCI image-spec, manifest.md


class EcrApiError(Exception):
    """An ECR API error (code and message), answered by moto as ECR answers it."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class RegistryRefusal(Exception):
    """The registry refused a push; ``str()`` is what docker prints (``<code>: <message>``)."""

    def __init__(self, code: str, status: int, message: str):
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class IssuedToken:
    """An authorization token ECR issued: its password, when it expires, the access key that asked for it."""

    password: str
    expires_at: datetime
    access_key: str


@dataclass(frozen=True)
class PushedImage:
    """What a push stored: where, under which tag and digest, and whether the push created the repository."""

    registry_id: str
    region: str
    repository_name: str
    image_tag: str
    image_digest: str
    created_repository: bool


def _invalid(field: str, value: Any, constraint: str) -> EcrApiError:
    # The AWS JSON services' validation message ("1 validation error detected: Value ... at ... failed to satisfy
    # constraint: ..."); both template operations list ValidationException (botocore's ECR model).
    return EcrApiError("ValidationException",
                       f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: "
                       f"{constraint}")


class Registry:
    """One account's private registry in one region: its creation templates and the tokens it issued."""

    def __init__(self, account: str, region: str, check_lifecycle_policy: Callable[[str], None]):
        self.account = account
        self.region = region
        self.check_lifecycle_policy = check_lifecycle_policy  # raises ECR's InvalidParameterException
        self.templates: dict[str, dict] = {}
        self.tokens: dict[str, IssuedToken] = {}
        self._lock = threading.Lock()

    # -- repository creation templates ----------------------------------------------------------------------------
    def create_template(self, request: dict, now: datetime) -> dict:
        """CreateRepositoryCreationTemplate."""
        prefix = self._prefix(request.get("prefix"))
        self._check(request)
        with self._lock:
            if _key(prefix) in {_key(p) for p in self.templates}:
                # TemplateAlreadyExistsException: "The repository creation template already exists. Specify a
                # unique prefix and try again." (botocore's ECR model)
                raise EcrApiError("TemplateAlreadyExistsException",
                                  f"The repository creation template with prefix '{prefix}' already exists in the "
                                  f"registry with id '{self.account}'. Specify a unique prefix and try again.")
            template = {"prefix": prefix, **{k: request[k] for k in TEMPLATE_FIELDS if k in request},
                        "createdAt": now, "updatedAt": now}
            template.setdefault("imageTagMutability", "MUTABLE")  # "the default setting of MUTABLE" (model)
            template.setdefault("encryptionConfiguration", {"encryptionType": "AES256"})
            self.templates[prefix] = template
        return {"registryId": self.account, "repositoryCreationTemplate": dict(template)}

    def update_template(self, request: dict, now: datetime) -> dict:
        """UpdateRepositoryCreationTemplate: the members given replace the template's."""
        prefix = self._prefix(request.get("prefix"))
        self._check(request)
        with self._lock:
            template = self.templates[self._existing(prefix)]
            template.update({k: request[k] for k in TEMPLATE_FIELDS if k in request}, updatedAt=now)
        return {"registryId": self.account, "repositoryCreationTemplate": dict(template)}

    def delete_template(self, prefix: str) -> dict:
        """DeleteRepositoryCreationTemplate."""
        prefix = self._prefix(prefix)
        with self._lock:
            template = self.templates.pop(self._existing(prefix))
        return {"registryId": self.account, "repositoryCreationTemplate": template}

    def describe_templates(self, prefixes: list[str] | None = None, max_results: int | None = None,
                           next_token: str | None = None) -> dict:
        """DescribeRepositoryCreationTemplates: all, or those of ``prefixes``; paged by maxResults/nextToken."""
        for prefix in prefixes or ():
            self._prefix(prefix)
        with self._lock:
            wanted = {_key(p) for p in prefixes or ()}
            found = [dict(t) for p, t in sorted(self.templates.items()) if not wanted or _key(p) in wanted]
        start = int(next_token) if next_token and next_token.isdigit() else 0
        size = max_results or 1000  # maxResults 1..1000 (model)
        page = {"registryId": self.account, "repositoryCreationTemplates": found[start:start + size]}
        if start + size < len(found):
            page["nextToken"] = str(start + size)
        return page

    def template_for(self, repository_name: str, applied_for: str) -> dict | None:
        """The template that applies to a new repository in this scenario: the longest matching prefix, else ROOT.

        ECR user guide, "Private repository creation templates" / CreateRepositoryCreationTemplate prefix: "a
        prefix of prod/team would apply to all repositories beginning with prod/team/"; "There is always an assumed
        / applied to the end of the prefix"; "To apply a template to all repositories in your registry that don't
        have an associated creation template, you can use ROOT as the prefix." A template applies only to the
        scenarios in its appliedFor ("the repository creation scenarios that this template will apply towards").
        """
        with self._lock:
            candidates = [t for p, t in self.templates.items() if applied_for in t.get("appliedFor", ())
                          and (p == "ROOT" or repository_name.startswith(_key(p) + "/"))]
        named = [t for t in candidates if t["prefix"] != "ROOT"]
        if named:
            return dict(max(named, key=lambda t: len(_key(t["prefix"]))))
        return dict(candidates[0]) if candidates else None

    def _prefix(self, prefix: Any) -> str:
        if not isinstance(prefix, str) or not re.fullmatch(PREFIX_PATTERN, prefix):
            raise _invalid("prefix", prefix, f"Member must satisfy regular expression pattern: {PREFIX_PATTERN}")
        return prefix

    def _existing(self, prefix: str) -> str:
        for stored in self.templates:
            if _key(stored) == _key(prefix):
                return stored
        # TemplateNotFoundException: "The specified repository creation template can't be found. Verify the
        # registry ID and prefix and try again." (botocore's ECR model)
        raise EcrApiError("TemplateNotFoundException",
                          f"The repository creation template with prefix '{prefix}' can't be found in the registry "
                          f"with id '{self.account}'. Verify the registry ID and prefix and try again.")

    def _check(self, request: dict) -> None:
        """The members' constraints in botocore's ECR model that botocore does not check itself (enums, JSON)."""
        for value in request.get("appliedFor") or ():
            if value not in APPLIED_FOR:
                raise _invalid("appliedFor", request["appliedFor"],
                               f"Member must satisfy enum value set: [{', '.join(APPLIED_FOR)}]")
        mutability = request.get("imageTagMutability")
        if mutability is not None and mutability not in TAG_MUTABILITY:
            raise _invalid("imageTagMutability", mutability,
                           f"Member must satisfy enum value set: [{', '.join(TAG_MUTABILITY)}]")
        encryption = (request.get("encryptionConfiguration") or {}).get("encryptionType")
        if encryption is not None and encryption not in ENCRYPTION_TYPES:
            raise _invalid("encryptionConfiguration.encryptionType", encryption,
                           f"Member must satisfy enum value set: [{', '.join(ENCRYPTION_TYPES)}]")
        if request.get("lifecyclePolicy"):
            # "The lifecycle policy to use for repositories created using the template" (model): the text
            # PutLifecyclePolicy accepts, checked by the same rules (moto's lifecycle policy validator).
            self.check_lifecycle_policy(request["lifecyclePolicy"])
        if request.get("repositoryPolicy"):
            try:
                json.loads(request["repositoryPolicy"])
            except ValueError:
                # SetRepositoryPolicy's refusal of a policy that is not one (moto's ECR, as ECR answers).
                raise EcrApiError("InvalidParameterException",
                                  "Invalid parameter at 'repositoryPolicy' failed to satisfy constraint: "
                                  "'Invalid repository policy provided'") from None

    # -- authorization tokens -------------------------------------------------------------------------------------
    def issue_token(self, access_key: str, now: datetime) -> dict:
        """One AuthorizationData: a new password, valid 12 hours from ``now``, for ``docker login -u AWS``."""
        password = secrets.token_urlsafe(96)
        token = IssuedToken(password, now + TOKEN_VALIDITY, access_key)
        with self._lock:
            self.tokens[password] = token
        # "A base64-encoded string that contains authorization data ... When the string is decoded, it is
        # presented in the format user:password" (API reference, AuthorizationData); the user is AWS.
        return {"authorizationToken": base64.b64encode(f"AWS:{password}".encode()).decode(),
                "expiresAt": token.expires_at,
                "proxyEndpoint": f"https://{self.account}.dkr.ecr.{self.region}.amazonaws.com"}

    def issued(self, password: str) -> IssuedToken | None:
        """The token with this password, if this registry issued it (expired or not)."""
        with self._lock:
            return self.tokens.get(password)


def _key(prefix: str) -> str:
    """A prefix as ECR compares it: "There is always an assumed / applied to the end of the prefix" (model)."""
    return prefix.rstrip("/")


# -- a docker push ------------------------------------------------------------------------------------------------
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
