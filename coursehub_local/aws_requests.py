"""Which AWS operation an HTTP request calls, read from the request as AWS reads it, per botocore's service model.

- JSON protocol: the ``X-Amz-Target`` header, ``<targetPrefix>.<Operation>``;
- query and EC2 protocols: the ``Action`` (and ``Version``) field, in the query string or the form body;
- REST protocols: the method and the path against each operation's ``requestUri``. The path is matched as
  sent (``RAW_URI``), not as WSGI decodes it (``PATH_INFO``): botocore percent-encodes a label's value, a
  ``/`` included, so ``/clusters/c/access-entries/arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr/access-policies`` is
  ``eks:AssociateAccessPolicy`` while its decoded form has two path segments too many. Only greedy labels
  (``{Key+}``) span segments. Literal query keys in a ``requestUri`` (``/{Bucket}?acl``) must be present, and
  the most specific route wins (``GET /{Bucket}?acl`` is ``GetBucketAcl``, not ``ListObjects``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass(frozen=True)
class Call:
    """The operation a request calls and its path labels' values (decoded).

    ``operations`` has more than one name only where the model gives several operations the same request (S3's
    ``GetBucketLifecycle`` and ``GetBucketLifecycleConfiguration``): the request is each of them.
    """

    operations: tuple[str, ...]
    labels: dict[str, str]

    @property
    def operation(self) -> str:
        return self.operations[0]


@dataclass(frozen=True)
class _Route:
    operation: str
    method: str
    path: re.Pattern
    labels: tuple[str, ...]
    query: tuple[tuple[str, str | None], ...]  # literal query keys (and values) of the requestUri, required ones
    headers: tuple[str, ...]  # required header members, as WSGI names them (HTTP_X_AMZ_COPY_SOURCE)
    specificity: tuple[int, int]


@cache
def service_model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def protocol(service: str) -> str:
    """The protocol botocore's clients speak to ``service``."""
    model = service_model(service)
    return getattr(model, "resolved_protocol", None) or model.protocol


def signing_name(service: str) -> str:
    model = service_model(service)
    return model.signing_name or service


def call_of(service: str, environ: dict, body: bytes) -> Call | None:
    """The operation of ``service`` this WSGI request calls, or None."""
    model = service_model(service)
    spoken = protocol(service)
    if spoken == "json":
        prefix, _, operation = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")
        known = prefix == model.metadata.get("targetPrefix") and operation in model.operation_names
        return Call((operation,), {}) if known else None
    if spoken in ("query", "ec2"):
        fields = {**parse_qs(environ.get("QUERY_STRING", "")), **parse_qs(body.decode(errors="replace"))}
        operation, version = fields.get("Action", [""])[0], fields.get("Version", [""])[0]
        known = operation in model.operation_names and version in ("", model.api_version)
        return Call((operation,), {}) if known else None
    return _rest_call(service, environ)


def _rest_call(service: str, environ: dict) -> Call | None:
    raw = urlsplit(environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", ""))
    query = parse_qs(raw.query, keep_blank_values=True)
    found = []
    for route in _routes(service):
        if route.method != environ.get("REQUEST_METHOD"):
            continue
        match = route.path.fullmatch(raw.path)
        if match and all(key in query and (value is None or value in query[key]) for key, value in route.query) \
                and all(header in environ for header in route.headers):
            found.append((route, match))
    if not found:
        return None
    top = max(route.specificity for route, _ in found)
    best = [(route, match) for route, match in found if route.specificity == top]
    route, match = best[0]
    return Call(tuple(r.operation for r, _ in best),
                {name: unquote(value) for name, value in zip(route.labels, match.groups())})


@cache
def _routes(service: str) -> tuple[_Route, ...]:
    model = service_model(service)
    return tuple(_route(model.operation_model(name)) for name in model.operation_names)


def _route(model: Any) -> _Route:
    path, _, query = model.http["requestUri"].partition("?")
    parts = re.split(r"(\{[^}]+\})", path)
    labels = tuple(p[1:-1].rstrip("+") for p in parts if p.startswith("{"))
    pattern = "".join(("(.+)" if p.endswith("+}") else "([^/]+)") if p.startswith("{") else re.escape(p)
                      for p in parts)
    literals = tuple((key, value if sep else None) for key, sep, value in
                     (item.partition("=") for item in query.split("&") if item))
    # Members the operation requires in the query string or headers tell operations on one path apart, as on
    # AWS: S3's DELETE /{Bucket}/{Key+} with ?uploadId is AbortMultipartUpload, without it DeleteObject.
    shape = model.input_shape
    required = [shape.members[name].serialization for name in (shape.required_members if shape else ())]
    literals += tuple((s["name"], None) for s in required if s.get("location") == "querystring")
    headers = tuple(_wsgi_name(s["name"]) for s in required if s.get("location") == "header")
    literal_length = sum(len(p) for p in parts if not p.startswith("{"))
    return _Route(model.name, model.http["method"], re.compile(pattern.rstrip("/") + "/?"), labels, literals,
                  headers, (len(literals) + len(headers), literal_length))


def _wsgi_name(header: str) -> str:
    """How a WSGI environ names an HTTP header (PEP 3333)."""
    name = header.upper().replace("-", "_")
    return name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + name
