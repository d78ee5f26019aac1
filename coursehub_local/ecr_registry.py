"""Amazon ECR beyond moto: repository creation templates and 12-hour authorization tokens.

moto 5.2.5 has no creation templates and issues one fixed token that expired in 2015. Here each account's registry
in each region (``Registry``, kept on moto's ECR backend by ``moto_patches.ecr_registry`` so a reset forgets it)
holds its templates and the tokens it issued; ``moto_patches`` answers the API actions from it and ``ecr_push``
checks pushes against it. Every rule names its source.
"""
from __future__ import annotations

import base64
import json
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

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


class EcrApiError(Exception):
    """An ECR API error (code and message), answered by moto as ECR answers it."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class IssuedToken:
    """An authorization token ECR issued: its password, when it expires, the access key that asked for it."""

    password: str
    expires_at: datetime
    access_key: str


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


def check_registry_ids(registry_ids: list[str]) -> list[str]:
    """GetAuthorizationToken's registryIds: account IDs ("Pattern: [0-9]{12}", API reference and botocore's model,
    shape RegistryId); GetAuthorizationToken's only client error is InvalidParameterException."""
    for registry_id in registry_ids:
        if not re.fullmatch(r"[0-9]{12}", str(registry_id)):
            raise EcrApiError("InvalidParameterException",
                              f"Invalid parameter at 'registryIds' failed to satisfy constraint: '{registry_id}' "
                              "must satisfy regular expression '[0-9]{12}'")
    return registry_ids


def _key(prefix: str) -> str:
    """A prefix as ECR compares it: "There is always an assumed / applied to the end of the prefix" (model)."""
    return prefix.rstrip("/")
