"""Read secrets by ARN. Values stay inside the function that needs them: never logged or returned."""
from __future__ import annotations

import json
from typing import Any

from chalicelib.errors import SecretUnavailable


def read_secret(secretsmanager: Any, secret_arn: str, key: str | None = None) -> str:
    """Return a secret's string, or one key of a JSON secret."""
    try:
        response = secretsmanager.get_secret_value(SecretId=secret_arn)
    except secretsmanager.exceptions.ResourceNotFoundException:
        raise SecretUnavailable(f"secret {secret_arn} does not exist") from None
    value = response.get("SecretString")
    if not value:
        raise SecretUnavailable(f"secret {secret_arn} has no string value")
    if key is None:
        return value
    try:
        field = json.loads(value)[key]
    except (ValueError, KeyError, TypeError):
        raise SecretUnavailable(f"secret {secret_arn} has no JSON key {key!r}") from None
    if not isinstance(field, str) or not field:
        raise SecretUnavailable(f"secret {secret_arn} key {key!r} is not a non-empty string")
    return field
