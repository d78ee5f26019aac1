"""API errors and the ``Status`` objects the Kubernetes API answers them with."""
from __future__ import annotations


def status_body(code: int, reason: str, message: str, details: dict | None = None) -> dict:
    """A ``meta/v1 Status`` failure document as kube-apiserver writes it."""
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = {k: v for k, v in details.items() if v != ""}
    return body


def success_status(details: dict | None = None) -> dict:
    """A ``Status`` reporting success (answer to some deletes)."""
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    if details:
        body["details"] = details
    return body


class ApiError(Exception):
    """An error that becomes an HTTP status code with a ``Status`` body."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def body(self) -> dict:
        """The ``Status`` document for this error."""
        return status_body(self.code, self.reason, self.message, self.details)


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, group: str, name: str) -> ApiError:
    """404 for a missing object, worded like kube-apiserver."""
    qualified = _qualified(resource, group)
    return ApiError(404, "NotFound", f'{qualified} "{name}" not found',
                    {"name": name, "group": group, "kind": resource})


def already_exists(resource: str, group: str, name: str) -> ApiError:
    """409 for a create whose name is taken."""
    qualified = _qualified(resource, group)
    return ApiError(409, "AlreadyExists", f'{qualified} "{name}" already exists',
                    {"name": name, "group": group, "kind": resource})


def conflict(resource: str, group: str, name: str, why: str | None = None) -> ApiError:
    """409 for an update based on a stale resourceVersion."""
    qualified = _qualified(resource, group)
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {qualified} "{name}": {why}',
                    {"name": name, "group": group, "kind": resource})


def invalid(kind: str, group: str, name: str, causes: list[tuple[str, str]]) -> ApiError:
    """422 for an object that fails validation; ``causes`` are (field, message)."""
    text = "; ".join(f"{field}: {message}" for field, message in causes)
    details = {
        "name": name, "group": group, "kind": kind,
        "causes": [{"reason": "FieldValueInvalid", "message": m, "field": f} for f, m in causes],
    }
    return ApiError(422, "Invalid", f'{kind}.{group or "core"} "{name}" is invalid: {text}', details)


def bad_request(message: str) -> ApiError:
    """400 for a request the server cannot interpret."""
    return ApiError(400, "BadRequest", message)


def method_not_allowed(message: str = "the server does not allow this method on the requested resource") -> ApiError:
    """405 for a verb the resource does not support."""
    return ApiError(405, "MethodNotAllowed", message)


def unsupported_media_type(content_type: str) -> ApiError:
    """415 for a body encoding the server does not read."""
    return ApiError(415, "UnsupportedMediaType", f'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got "{content_type}")')


def unauthorized() -> ApiError:
    """401 for a missing or rejected bearer token."""
    return ApiError(401, "Unauthorized", "Unauthorized")


def forbidden(message: str, details: dict | None = None) -> ApiError:
    """403, used for content in a namespace that is being terminated."""
    return ApiError(403, "Forbidden", message, details)


def gone(message: str) -> ApiError:
    """410 for a watch from a resourceVersion no longer in the event log."""
    return ApiError(410, "Expired", message)
