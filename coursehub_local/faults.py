"""Errors the local stack answers instead of moto, to rehearse what AWS does on a bad day.

``stack.faults.inject("eks", "DescribeCluster", times=4)`` makes the next four
DescribeCluster calls of the app's functions fail with ``ThrottlingException``
(HTTP 429), as EKS does under load; ``kind="denied"`` answers as for a role
missing the permission; ``times=None`` answers until cleared; ``resource`` limits
the fault to calls naming one resource in their path (a Lambda function, an EKS
cluster). Calls of the stack itself and of tests (``LocalStack.client``, marked by
``STACK_AGENT`` in their User-Agent) are never faulted; calls AWS services make on
the app's behalf are, e.g. Step Functions invoking a Task's function. Operations
are recognised from the request as AWS does (``aws_requests.py``). Any program
reaches the same through the stack's faults endpoint (``fault_endpoint.py``).
"""
from __future__ import annotations

import io
import itertools
import json
import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable

from coursehub_local import aws_requests

STACK_AGENT = "coursehub-local-stack"
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
KINDS = ("throttled", "denied")
_CODE = re.compile(r"[A-Za-z][A-Za-z0-9._]{0,127}")


class FaultRejected(ValueError):
    """A fault that cannot be injected, naming the field at fault."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name


@dataclass
class Fault:
    """One injected error, answered ``times`` times (None: until cleared)."""

    service: str
    operation: str
    code: str
    status: int
    message: str
    times: int | None
    resource: str | None = None
    id: int = 0
    answered: int = 0

    @property
    def remaining(self) -> int | None:
        return None if self.times is None else self.times - self.answered

    def as_json(self) -> dict:
        return {**asdict(self), "remaining": self.remaining}

    def _applies(self, call: aws_requests.Call) -> bool:
        if self.operation not in call.operations or (self.times is not None and self.answered >= self.times):
            return False
        return self.resource is None or any(_names(value, self.resource) for value in call.labels.values())


def preset(service: str, operation: str, kind: str) -> tuple[str, int, str]:
    """The error code, HTTP status and message ``service`` answers when throttling or denying a call.

    The service's own model first (botocore declares e.g. Lambda's TooManyRequestsException with 429, EKS's
    AccessDeniedException with 403), else what each protocol's services answer: EC2's RequestLimitExceeded (503)
    and UnauthorizedOperation (403) (EC2 API Reference, "Error codes"); the query and REST-XML services'
    Throttling (400) and AccessDenied (403) (IAM, STS, ELB and Route53 API References; S3's SlowDown, 503);
    AccessDeniedException with 403 for REST-JSON services (their API References' "Common Errors", e.g.
    Lambda's); else JSON services' ThrottlingException and AccessDeniedException (400, e.g. DynamoDB's
    "Error handling" in its Developer Guide).
    """
    if kind not in KINDS:
        raise FaultRejected("kind", f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    spoken = aws_requests.protocol(service)
    model = aws_requests.service_model(service)
    if kind == "throttled":
        declared = _declared(model, ("TooManyRequestsException", "ThrottlingException"))
        message = "Rate exceeded"
        fallback = {"ec2": ("RequestLimitExceeded", 503), "query": ("Throttling", 400),
                    "rest-xml": ("SlowDown", 503) if service == "s3" else ("Throttling", 400),
                    }.get(spoken, ("ThrottlingException", 400))
    else:
        declared = _declared(model, ("AccessDeniedException",))
        message = f"not authorized to perform: {aws_requests.signing_name(service)}:{operation}"
        fallback = {"ec2": ("UnauthorizedOperation", 403), "query": ("AccessDenied", 403),
                    "rest-xml": ("AccessDenied", 403), "rest-json": ("AccessDeniedException", 403),
                    }.get(spoken, ("AccessDeniedException", 400))
    return (*(declared or fallback), message)


def _declared(model: Any, names: tuple[str, ...]) -> tuple[str, int] | None:
    """The first of ``names`` the service model declares as an error with an HTTP status."""
    for name in names:
        if name in model.shape_names:
            status = model.shape_for(name).metadata.get("error", {}).get("httpStatusCode")
            if status:
                return name, status
    return None


@dataclass
class Faults:
    """The injected errors and the WSGI middleware that answers them."""

    _faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def inject(self, service: str, operation: str, *, times: int | None = 1, code: str | None = None,
               status: int | None = None, message: str | None = None, kind: str = "throttled",
               resource: str | None = None) -> Fault:
        """Answer the next ``times`` calls of ``service:operation`` (botocore's names) with an error."""
        model = _operation_model(service, operation)  # unknown names fail here, not silently later
        preset_code, preset_status, preset_message = preset(service, operation, kind)
        fault = Fault(service, operation, preset_code if code is None else code,
                      preset_status if status is None else status,
                      preset_message if message is None else message,
                      times, resource)
        _check(fault, model)
        with self._lock:
            fault.id = next(self._ids)
            self._faults.append(fault)
        return fault

    def listed(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def clear(self, fault_id: int | None = None) -> int:
        """Forget every fault (or the one with ``fault_id``); how many were forgotten."""
        with self._lock:
            kept = [f for f in self._faults if fault_id is not None and f.id != fault_id]
            cleared = len(self._faults) - len(kept)
            self._faults[:] = kept
        return cleared

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
        if _from_the_stack(environ):
            return None
        scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if not scope:
            return None
        with self._lock:
            candidates = [f for f in self._faults if aws_requests.signing_name(f.service) == scope.group(1)]
            if not candidates:
                return None
            body = _peek_body(environ)
            calls: dict[str, aws_requests.Call | None] = {}
            for fault in candidates:
                if fault.service not in calls:
                    calls[fault.service] = aws_requests.call_of(fault.service, environ, body)
                call = calls[fault.service]
                if call is not None and fault._applies(call):
                    fault.answered += 1
                    return fault
        return None


def _from_the_stack(environ: dict) -> bool:
    """Whether the request comes from the stack itself (or a test's ``LocalStack.client``)."""
    return STACK_AGENT in environ.get("HTTP_USER_AGENT", "")


def _operation_model(service: str, operation: str) -> Any:
    from botocore.exceptions import DataNotFoundError, UnknownServiceError
    from botocore.model import OperationNotFoundError

    if not isinstance(service, str) or not service:
        raise FaultRejected("service", "service must be botocore's name of an AWS service, e.g. eks")
    if not isinstance(operation, str) or not operation:
        raise FaultRejected("operation", "operation must be botocore's name of an operation, e.g. CreateNodegroup")
    try:
        model = aws_requests.service_model(service)
    except (UnknownServiceError, DataNotFoundError):
        raise FaultRejected("service", f"no AWS service {service!r} (botocore's names, e.g. eks)") from None
    try:
        return model.operation_model(operation)
    except OperationNotFoundError:
        raise FaultRejected("operation", f"{service} has no operation {operation!r} "
                                         "(botocore's names, e.g. CreateNodegroup)") from None


def _check(fault: Fault, model: Any) -> None:
    if fault.times is not None and (type(fault.times) is not int or fault.times < 1):
        raise FaultRejected("times", "times must be a whole number of calls, at least 1 (or null: until cleared)")
    if not isinstance(fault.code, str) or not _CODE.fullmatch(fault.code):
        raise FaultRejected("code", "code must be an AWS error code such as ThrottlingException")
    if type(fault.status) is not int or not 400 <= fault.status <= 599:
        raise FaultRejected("status", "status must be an HTTP error status, 400 to 599")
    if not isinstance(fault.message, str) or len(fault.message) > 1024:
        raise FaultRejected("message", "message must be text of at most 1024 characters")
    if fault.resource is not None:
        if not isinstance(fault.resource, str) or not fault.resource:
            raise FaultRejected("resource", "resource must be a name or ARN")
        if "{" not in model.http.get("requestUri", "") or aws_requests.protocol(fault.service) not in (
                "rest-json", "rest-xml"):
            raise FaultRejected("resource", f"{fault.service}:{fault.operation} names no resource in its path; "
                                            "resource applies to REST operations such as lambda:Invoke")


def _names(value: str, resource: str) -> bool:
    """Whether a path label's value names ``resource``: the same name or ARN, or an ARN ending in that name."""
    return value == resource or value.endswith((":" + resource, "/" + resource))


def _peek_body(environ: dict) -> bytes:
    """Read the body and put it back for moto."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _error_body(fault: Fault) -> tuple[bytes, str]:
    spoken = aws_requests.protocol(fault.service)
    if spoken in ("query", "ec2", "rest-xml"):
        error = f"<Error><Code>{fault.code}</Code><Message>{_xml(fault.message)}</Message></Error>"
        wrapped = (f"<Response><Errors>{error}</Errors></Response>" if spoken == "ec2"
                   else f"<ErrorResponse>{error}</ErrorResponse>")
        return wrapped.encode(), "text/xml"
    return json.dumps({"__type": fault.code, "message": fault.message}).encode(), "application/x-amz-json-1.1"


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
