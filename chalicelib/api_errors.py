"""How the REST API refuses: ``ApiError`` and the one error shape every 4xx/5xx answer has."""
from __future__ import annotations

from typing import Any

from chalicelib.errors import CourseHubError


class ApiError(CourseHubError):
    """A response other than success: HTTP status, a stable code, a message and the field at fault (if one is)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None, **extra: Any):
        super().__init__(message)
        self.status, self.code, self.message, self.field, self.extra = status, code, message, field, extra

    def body(self) -> dict:
        return {"code": self.code, "message": self.message, **({"field": self.field} if self.field else {}),
                **self.extra}


def reshape(response: Any) -> Any:
    """A Chalice error response (``{"Code", "Message"}``) in the API's error shape; anything else as it is."""
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and set(body) == {"Code", "Message"}:
        code = "InternalError" if response.status_code >= 500 else body["Code"]
        message = "an internal error occurred" if response.status_code >= 500 else body["Message"]
        response.body = {"code": code, "message": message}
    return response
