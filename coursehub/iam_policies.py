"""Each function's IAM policy against the AWS actions it was seen to perform.

``problems`` lists, per function, every performed action its policy does not
allow (the function would fail on AWS) and every granted action it never
performed (more than it needs). Some grants are used without an API call of
the function's own, so they are derived, not recorded:

- ``logs:*`` to write the function's logs: the Lambda runtime uses them;
- ``iam:PassRole``: passing a role to EKS (cluster, node group, Pod Identity association) or to EventBridge Scheduler
  (schedule targets);
- ``eks:TagResource``: creating an EKS cluster, node group, add-on or Pod Identity association with tags (tag-on-create
  is authorized as tagging);
- ``ecr:CreateRepository`` and ``ecr:PutLifecyclePolicy``: creating or updating a repository creation template with a
  lifecycle policy (ECR user guide, "IAM permissions for creating repository creation templates"; its ``iam:PassRole``
  for the custom role too);
- the ECR push actions: the builds push with the login a function gets (``ecr:GetAuthorizationToken``), and ECR
  authorizes a push as that function's role (ECR user guide, image-push-iam), including ``ecr:CreateRepository`` for
  the repository a first push creates.

``sts:GetCallerIdentity`` needs no permission, so it is not required.
"""
from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHALICE_DIR = ROOT / ".chalice"
RUNTIME = {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}
CREATION_TEMPLATE = {"ecr:CreateRepositoryCreationTemplate", "ecr:UpdateRepositoryCreationTemplate"}
PASSES_A_ROLE = {"eks:CreateCluster", "eks:CreateNodegroup", "eks:CreatePodIdentityAssociation",
                 "scheduler:CreateSchedule", "scheduler:UpdateSchedule", *CREATION_TEMPLATE}
ECR_PUSH = {"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload", "ecr:CreateRepository",
            "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart"}
# the project always tags what EKS creates
TAGS_ON_CREATE = {"eks:CreateCluster", "eks:CreateNodegroup", "eks:CreateAddon", "eks:CreatePodIdentityAssociation"}
NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity"}


@dataclass(frozen=True, order=True)
class Problem:
    function: str
    action: str
    kind: str  # "not allowed" or "never used"

    def __str__(self) -> str:
        if self.kind == "not allowed":
            return f"{self.function} calls {self.action}, which its policy does not allow"
        return f"{self.function} is granted {self.action} but never used it"


def policies(chalice_dir: Path = CHALICE_DIR) -> dict[str, dict]:
    """Each function's policy document, by Chalice function name (from ``config.json``)."""
    config = json.loads((chalice_dir / "config.json").read_text())
    return {name: json.loads((chalice_dir / settings["iam_policy_file"]).read_text())
            for name, settings in config["lambda_functions"].items()}


def granted(policy: dict) -> list[str]:
    """The action patterns the policy allows (``Deny`` and ``NotAction`` are not used here)."""
    found = []
    for statement in policy["Statement"]:
        if statement["Effect"] == "Allow":
            actions = statement["Action"]
            found += [actions] if isinstance(actions, str) else actions
    return found


def allows(patterns: list[str], action: str) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in patterns)


def needed(performed: set[str]) -> set[str]:
    """What the function needs: what it called, plus what those calls use on its behalf."""
    needs = set(performed) - NEEDS_NO_PERMISSION
    if needs & PASSES_A_ROLE:
        needs.add("iam:PassRole")
    if needs & TAGS_ON_CREATE:
        needs.add("eks:TagResource")
    if needs & CREATION_TEMPLATE:
        needs |= {"ecr:CreateRepository", "ecr:PutLifecyclePolicy"}
    if "ecr:GetAuthorizationToken" in needs:
        needs |= ECR_PUSH
    return needs


def problems(performed: dict[str, set[str]], documents: dict[str, dict]) -> list[Problem]:
    """Every action a function performed that its policy does not allow, and every grant it did not use."""
    found = []
    for function, policy in documents.items():
        patterns = granted(policy)
        needs = needed(performed.get(function, set()))
        found += [Problem(function, action, "not allowed") for action in needs if not allows(patterns, action)]
        found += [Problem(function, pattern, "never used") for pattern in patterns
                  if pattern not in RUNTIME and not any(allows([pattern], action) for action in needs)]
    found += [Problem(function, "(no policy)", "not allowed") for function in performed if function not in documents]
    return sorted(found)


def wildcard_resources(policy: dict) -> list[list[str]]:
    """The action lists of statements on every resource (``"Resource": "*"`` without a tag or other condition)."""
    out = []
    for statement in policy["Statement"]:
        if statement.get("Resource") in ("*", ["*"]) and not statement.get("Condition"):
            actions = statement["Action"]
            out.append([actions] if isinstance(actions, str) else actions)
    return out


def tag_conditions(policy: dict) -> dict[str, set[str]]:
    """Action pattern -> the tag keys its statements' conditions name (``aws:ResourceTag/<key>``), for conditioned ones.

    The check cannot evaluate a condition; what it can prove is that each names a tag the app puts on what the
    action is used on (tests/local/test_least_privilege.py).
    """
    found: dict[str, set[str]] = {}
    for statement in policy["Statement"]:
        keys = {key.split("/", 1)[1] for test in statement.get("Condition", {}).values() for key in test
                if key.startswith("aws:ResourceTag/")}
        if keys:
            actions = statement["Action"]
            for action in [actions] if isinstance(actions, str) else actions:
                found.setdefault(action, set()).update(keys)
    return found


def allowed_on(policy: dict, action: str, resource_tags: dict[str, str], principal_tags: dict[str, str]) -> bool:
    """Whether an Allow statement of ``policy`` grants ``action`` on a resource with ``resource_tags``.

    Conditions are evaluated for what the policies use: ``StringEquals`` and ``StringLike`` on
    ``aws:ResourceTag/<key>``, with ``${aws:PrincipalTag/<key>}`` replaced by the role's tag (IAM User Guide,
    "IAM policy elements: Variables"; a missing tag fails the condition). Anything else raises ValueError.
    """
    for statement in policy["Statement"]:
        actions = statement["Action"]
        if statement["Effect"] != "Allow" or not allows([actions] if isinstance(actions, str) else actions, action):
            continue
        if all(_holds(operator, key, value, resource_tags, principal_tags)
               for operator, tests in statement.get("Condition", {}).items() for key, value in tests.items()):
            return True
    return False


def _holds(operator: str, key: str, expected: str, resource_tags: dict[str, str],
           principal_tags: dict[str, str]) -> bool:
    if operator not in ("StringEquals", "StringLike") or not key.startswith("aws:ResourceTag/"):
        raise ValueError(f"the policy check cannot evaluate {operator} on {key}")
    actual = resource_tags.get(key.split("/", 1)[1])
    for variable in re.findall(r"\$\{aws:PrincipalTag/([^}]+)\}", expected):
        if variable not in principal_tags:
            return False
        expected = expected.replace(f"${{aws:PrincipalTag/{variable}}}", principal_tags[variable])
    if actual is None:
        return False
    return actual == expected if operator == "StringEquals" else fnmatch.fnmatchcase(actual, expected)


def resolved(pattern: str, principal_tags: dict[str, str]) -> str:
    """``pattern`` with each ``${aws:PrincipalTag/<key>}`` replaced by the role's tag, as IAM reads it."""
    return re.sub(r"\$\{aws:PrincipalTag/([^}]+)\}", lambda m: principal_tags.get(m.group(1), m.group(0)), pattern)
