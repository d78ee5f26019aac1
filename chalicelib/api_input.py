"""What a caller sent the REST API, checked: path ids, JSON bodies, headers, hub requests and changes, page queries.

Each reader returns the value or raises a 400 ``ApiError`` naming the field at
fault, so nothing is started or written unless the input was valid.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from pydantic import ValidationError

from chalicelib import hub_records
from chalicelib.api_errors import ApiError
from chalicelib.hub_request import HubChanges, HubRequest
from chalicelib.settings import Settings

PAGE_SIZE, MAX_PAGE_SIZE = 20, 100
IDEMPOTENCY_KEY = r"^[\x21-\x7e]{1,128}$"  # printable ASCII, as the Idempotency-Key draft's examples
QUERY_PARAMETERS = ("status", "limit", "next")


def hub_id(value: Any) -> str:
    """A path's hub id, or 400 naming ``hub_id``."""
    if not isinstance(value, str) or not hub_records.HUB_ID.fullmatch(value):
        raise ApiError(400, "InvalidHubId", "a hub id is 'hub-' and a course id: lowercase letters, digits and '-', "
                       "48 characters at most", "hub_id")
    return value


def json_object(raw: bytes | None) -> dict:
    """The request body as a JSON object, or 400 naming ``body``."""
    if not raw:
        raise ApiError(400, "InvalidBody", "the request needs a JSON object as its body", "body")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "InvalidBody", "the body is not valid JSON", "body") from None
    except RecursionError:  # json.loads gives up on ~1000 levels of nesting
        raise ApiError(400, "InvalidBody", "the body is nested too deeply", "body") from None
    if not isinstance(body, dict):
        raise ApiError(400, "InvalidBody", "the body must be a JSON object", "body")
    try:  # "\ud800" is valid JSON text but no Unicode character (RFC 8259 section 8.2): nothing could store or echo it
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(400, "InvalidBody", "the body holds a string that is not valid Unicode (a lone surrogate "
                       "escape such as \\ud800)", "body") from None
    return body


def idempotency_key(value: str | None) -> str | None:
    """The Idempotency-Key header (None if absent), or 400 naming it."""
    if value is None:
        return None
    if not re.fullmatch(IDEMPOTENCY_KEY, value):
        raise ApiError(400, "InvalidIdempotencyKey", "Idempotency-Key must be 1 to 128 printable ASCII characters "
                       "without spaces", "Idempotency-Key")
    return value


def invalid(error: ValidationError, prefix: str = "") -> ApiError:
    """400 naming the first field at fault, with every problem listed."""
    problems = [{"field": prefix + (".".join(str(p) for p in e["loc"]) or "body"), "message": e["msg"]}
                for e in error.errors(include_url=False, include_input=False)]
    message = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return ApiError(400, "InvalidRequest", message, problems[0]["field"], errors=problems)


def parse_request(body: dict, settings: Settings) -> HubRequest:
    """A hub request judged against the stage's limits and today's date, with the stage's defaults filled in."""
    try:
        return HubRequest.parse(body, settings.limits(), settings.request_defaults())
    except ValidationError as error:
        raise invalid(error) from None


def changes(body: dict) -> HubChanges:
    """What a PATCH asks to change: at least one field, and nodes resized rather than removed."""
    try:
        parsed = HubChanges.model_validate(body)
    except ValidationError as error:
        raise invalid(error) from None
    if not body:
        raise ApiError(400, "InvalidRequest", f"nothing to change; send any of {', '.join(HubChanges.model_fields)}",
                       "body")
    if "nodes" in body and body["nodes"] is None:
        raise ApiError(400, "InvalidRequest", "a hub's nodes can be resized, not removed", "nodes")
    return parsed


def page_query(query: dict[str, str]) -> tuple[int, str | None, dict | None]:
    """A listing's ``limit``, ``status`` and where it starts (``next``), or 400 naming the parameter."""
    unknown = sorted(set(query) - set(QUERY_PARAMETERS))
    if unknown:
        raise ApiError(400, "InvalidQuery", f"unknown query parameter {unknown[0]!r}; use {', '.join(QUERY_PARAMETERS)}",
                       unknown[0] or "query")  # a parameter without a name ("?=x") is still named
    status = query.get("status")
    if status is not None and status not in hub_records.STATUSES:
        raise ApiError(400, "InvalidQuery", f"status must be one of {', '.join(hub_records.STATUSES)}", "status")
    limit = query.get("limit", str(PAGE_SIZE))
    # isdigit() alone lets '²' and 5000-digit numbers through to int(), which raises: a 500
    if not (limit.isascii() and limit.isdigit() and len(limit) <= 3) or not 1 <= int(limit) <= MAX_PAGE_SIZE:
        raise ApiError(400, "InvalidQuery", f"limit must be a whole number from 1 to {MAX_PAGE_SIZE}", "limit")
    start = decode_token(query["next"]) if "next" in query else None
    return int(limit), status, start


def encode_token(key: dict) -> str:
    """The ``next`` token of a page that ends at ``key``."""
    return base64.urlsafe_b64encode(json.dumps(key["hub_id"]).encode()).decode().rstrip("=")


def decode_token(token: str) -> dict:
    """Where the page after ``token`` starts, or 400 naming ``next``."""
    try:
        value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        value = None
    if not isinstance(value, str) or not hub_records.HUB_ID.fullmatch(value):
        raise ApiError(400, "InvalidQuery", "next must be the token of a previous page", "next")
    return {"hub_id": value}
