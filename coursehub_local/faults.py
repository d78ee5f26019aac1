"""Errors the local stack answers instead of moto, to rehearse what AWS does on a bad day.

``stack.faults.inject("eks", "DescribeCluster", times=4)`` makes the next four
DescribeCluster calls of the app's functions fail with ``ThrottlingException``
(HTTP 429), as EKS does under load. Calls of the stack itself and of tests
(``LocalStack.client``, marked by ``STACK_AGENT`` in their User-Agent) are never
faulted. Operations are recognised from the request as AWS does: the JSON
``X-Amz-Target``, the query ``Action``, or the REST method and path of
botocore's service model.
"""
from __future__ import annotations

import io
import json
import re
import threading
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

STACK_AGENT = "coursehub-local-stack"
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")


@dataclass
class Fault:
    """One injected error, answered ``times`` times."""

    service: str
    operation: str
    code: str
    status: int
    message: str
    times: int
    answered: int = 0

    @property
    def remaining(self) -> int:
        return self.times - self.answered


@dataclass
class Faults:
    """The injected errors and the WSGI middleware that answers them."""

    _faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def inject(self, service: str, operation: str, *, times: int = 1, code: str = "ThrottlingException",
               status: int = 429, message: str = "Rate exceeded") -> Fault:
        _operation_model(service, operation)  # unknown names fail here, not silently later
        fault = Fault(service, operation, code, status, message, times)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def wsgi(self, app: Callable) -> Callable:
        """``app`` with injected errors answered first."""
        def middleware(environ: dict, start_response: Callable) -> Iterable[bytes]:
            fault = self._take(environ) if self._faults else None
            if fault is None:
                return app(environ, start_response)
            body, content_type = _error_body(fault)
            start_response(f"{fault.status} Injected", [
                ("Content-Type", content_type), ("Content-Length", str(len(body))),
                ("x-amzn-ErrorType", fault.code), ("x-amzn-RequestId", "injected-fault")])
            return [body]
        return middleware

    def _take(self, environ: dict) -> Fault | None:
        if STACK_AGENT in environ.get("HTTP_USER_AGENT", ""):
            return None
        scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if not scope:
            return None
        with self._lock:
            candidates = [f for f in self._faults if f.remaining > 0 and _signing_name(f.service) == scope.group(1)]
            if not candidates:
                return None
            body = _peek_body(environ)
            for fault in candidates:
                if _is_operation(fault, environ, body):
                    fault.answered += 1
                    return fault
        return None


@cache
def _service_model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def _operation_model(service: str, operation: str) -> Any:
    return _service_model(service).operation_model(operation)


def _signing_name(service: str) -> str:
    return _service_model(service).signing_name or service


def _is_operation(fault: Fault, environ: dict, body: bytes) -> bool:
    model = _operation_model(fault.service, fault.operation)
    protocol = model.service_model.protocol
    if protocol == "json":
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        return target.rsplit(".", 1)[-1] == fault.operation
    if protocol in ("query", "ec2"):
        fields = {**parse_qs(environ.get("QUERY_STRING", "")), **parse_qs(body.decode(errors="replace"))}
        return fields.get("Action", [""])[0] == fault.operation
    method, uri = model.http["method"], model.http["requestUri"].split("?", 1)[0]
    return environ.get("REQUEST_METHOD") == method and _uri_pattern(uri).fullmatch(environ.get("PATH_INFO", ""))


@cache
def _uri_pattern(uri: str) -> re.Pattern:
    parts = re.split(r"(\{[^}]+\})", uri)
    return re.compile("".join((".+" if p.endswith("+}") else "[^/]+") if p.startswith("{") else re.escape(p)
                              for p in parts) + "/?")


def _peek_body(environ: dict) -> bytes:
    """Read the body and put it back for moto."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _error_body(fault: Fault) -> tuple[bytes, str]:
    protocol = _operation_model(fault.service, fault.operation).service_model.protocol
    if protocol in ("query", "ec2", "rest-xml"):
        error = f"<Error><Code>{fault.code}</Code><Message>{fault.message}</Message></Error>"
        wrapped = (f"<Response><Errors>{error}</Errors></Response>" if protocol == "ec2"
                   else f"<ErrorResponse>{error}</ErrorResponse>")
        return wrapped.encode(), "text/xml"
    return json.dumps({"__type": fault.code, "message": fault.message}).encode(), "application/x-amz-json-1.1"
