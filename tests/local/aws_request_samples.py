"""Requests as botocore sends them, for any operation: the fault tests' way to call what the app calls."""
from __future__ import annotations

import datetime
import functools

import botocore.session
from botocore.config import Config

from coursehub import iam_policies

ARN = "arn:aws:iam::123456789012:role/team/a-role"  # a label value with ":" and "/", as in EKS access entries
# IAM prefixes of the policies -> botocore services with that signing name
SERVICES_BY_PREFIX = {"elasticloadbalancing": ("elb", "elbv2"), "states": ("stepfunctions",)}
NOT_API_CALLS = {"iam:PassRole", "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}
MADE_BY_AWS = [("lambda", "Invoke")]  # Step Functions invoking a Task's function, on the app's behalf


def app_operations() -> list[tuple[str, str]]:
    """Every (service, operation) the app's functions are granted, hence call (tests/local/test_least_privilege.py
    fails on a grant never used), and the Invoke Step Functions makes for their Tasks."""
    session = botocore.session.get_session()
    found = set(MADE_BY_AWS)
    for policy in iam_policies.policies().values():
        for action in iam_policies.granted(policy):
            if action in NOT_API_CALLS:
                continue
            prefix, operation = action.split(":")
            for service in SERVICES_BY_PREFIX.get(prefix, (prefix,)):
                if operation in session.get_service_model(service).operation_names:
                    found.add((service, operation))
    return sorted(found)


def sample_input(shape, depth: int = 0):
    """A value for ``shape`` with every required member (enough for botocore to build the request)."""
    kind = shape.type_name
    if kind == "structure":
        return {name: sample_input(shape.members[name], depth + 1) for name in shape.required_members
                if depth < 6}
    if kind == "list":
        return [sample_input(shape.member, depth + 1)] if depth < 6 else []
    if kind == "map":
        return {}
    if kind == "string":
        return shape.enum[0] if shape.enum else ARN
    if kind in ("integer", "long"):
        return 1
    if kind in ("float", "double"):
        return 1.0
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    if kind == "blob":
        return b"{}"
    return None


def params(service: str, operation: str) -> dict:
    model = _service_model(service).operation_model(operation)
    return sample_input(model.input_shape) if model.input_shape else {}


@functools.cache
def _service_model(service: str):
    """Loaded once: a new session parses the service's JSON model again (a second for S3's)."""
    return botocore.session.get_session().get_service_model(service)


def call(client, operation: str, **overrides):
    """Call ``operation`` with sample parameters (botocore's method name from the operation's)."""
    from botocore import xform_name

    service = client.meta.service_model.service_name
    return getattr(client, xform_name(operation))(**{**params(service, operation), **overrides})


NO_VALIDATION = Config(parameter_validation=False, inject_host_prefix=False, s3={"addressing_style": "path"},
                       retries={"mode": "standard", "total_max_attempts": 1})
