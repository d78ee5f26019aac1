"""The faults endpoint: any program injects, lists and clears the stack's AWS faults over HTTP.

It lives on the AWS endpoint, under a path no AWS API uses (``faults_url`` in
``.coursehub/local.json``), and needs no signature, like moto's own ``/moto-api``:

- ``POST`` a JSON object: ``service`` and ``operation`` (botocore's names, e.g. ``eks`` and
  ``AssociateAccessPolicy``), and optionally ``kind`` (``throttled``, the default, or ``denied``: the
  code, status and message the service answers then), ``times`` (default 1; ``null``: until cleared),
  ``code``, ``status``, ``message`` (to override the kind's), ``resource`` (only calls naming this
  resource in their path, e.g. a Lambda function's name for ``lambda:Invoke``). 201 with the fault.
- ``GET``: the faults with how often each was answered; ``DELETE``: clear them all, or one by its id
  (``DELETE <faults_url>/<id>``).

A refused request gets a 4xx in the REST API's error shape, ``{"code", "message", "field"}``, naming the
field at fault, and changes nothing.
"""
from __future__ import annotations

import json
from typing import Callable, Iterable

from coursehub_local.faults import FaultRejected, Faults

PATH = "/_coursehub/faults"  # "_" is in no AWS API's path, nor in an S3 bucket name
FIELDS = ("service", "operation", "kind", "times", "code", "status", "message", "resource")
MAX_BODY = 16 * 1024


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str, field_name: str | None = None):
        super().__init__(message)
        self.status, self.code, self.field = status, code, field_name


def wsgi(faults: Faults, app: Callable) -> Callable:
    """``app`` with the faults endpoint answered first."""
    def endpoint(environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path != PATH and not path.startswith(PATH + "/"):
            return app(environ, start_response)
        try:
            status, body = _answer(faults, environ, path[len(PATH):].strip("/"))
        except _Refused as refused:
            status, body = refused.status, {"code": refused.code, "message": str(refused),
                                            **({"field": refused.field} if refused.field else {})}
        data = json.dumps(body).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
        if status == 405:
            headers.append(("Allow", "GET, POST, DELETE" if not path[len(PATH):].strip("/") else "DELETE"))
        start_response(f"{status} {'OK' if status < 400 else 'Refused'}", headers)
        return [data]
    return endpoint


def _answer(faults: Faults, environ: dict, fault_id: str) -> tuple[int, dict]:
    method = environ.get("REQUEST_METHOD")
    if fault_id:
        if method != "DELETE":
            raise _Refused(405, "MethodNotAllowed", f"{method} is not allowed here; DELETE clears this fault")
        if not fault_id.isdigit() or not faults.clear(int(fault_id)):
            raise _Refused(404, "FaultNotFound", f"no fault with id {fault_id!r}")
        return 200, {"cleared": 1}
    if method == "GET":
        return 200, {"faults": [fault.as_json() for fault in faults.listed()]}
    if method == "DELETE":
        return 200, {"cleared": faults.clear()}
    if method != "POST":
        raise _Refused(405, "MethodNotAllowed", f"{method} is not allowed here; GET, POST or DELETE")
    request = _json_object(environ)
    unknown = [name for name in request if name not in FIELDS]
    if unknown:
        raise _Refused(400, "UnknownField", f"unknown field {unknown[0]!r}; the fields are {', '.join(FIELDS)}",
                       unknown[0])
    for name in ("service", "operation"):
        if name not in request:
            raise _Refused(400, "MissingField", f"{name} is required", name)
    options = {name: request[name] for name in FIELDS[2:] if name in request}
    try:
        fault = faults.inject(request["service"], request["operation"], **options)
    except FaultRejected as rejected:
        raise _Refused(400, "InvalidFault", str(rejected), rejected.field) from None
    return 201, fault.as_json()


def _json_object(environ: dict) -> dict:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise _Refused(400, "InvalidBody", "Content-Length is not a number") from None
    if length > MAX_BODY:
        raise _Refused(413, "BodyTooLarge", f"the body may have at most {MAX_BODY} bytes")
    raw = environ["wsgi.input"].read(length) if length > 0 else b""
    try:
        request = json.loads(raw)
    except (ValueError, RecursionError):
        raise _Refused(400, "InvalidBody", "the body must be a JSON object") from None
    if not isinstance(request, dict):
        raise _Refused(400, "InvalidBody", "the body must be a JSON object")
    return request
