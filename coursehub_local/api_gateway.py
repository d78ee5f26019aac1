"""API Gateway for the app's REST API on loopback: SigV4 (IAM) authorization, then Chalice's local gateway.

What AWS does and this does too:
- every route is IAM-authorized: a request without a valid SigV4 signature of
  the stack's credentials (service ``execute-api``, the stack's region, at most
  five minutes old) gets 403 and never reaches the function; the answers use
  the gateway responses the template defines (``{"code", "message"}`` with
  API Gateway's response types);
- the verified caller goes into ``requestContext.identity`` (``userArn``,
  ``accessKey``, ``accountId``);
- the function runs in containers that each serve one request at a time: a
  request that finds every container busy gets a new one (a cold start, with its
  own module state), as concurrent Lambda invocations do;
- a URL longer than the REST API quota is refused at the door (414), before the
  signature is checked; every refusal of the gateway's own is JSON in the API's
  error shape, so a caller never gets an HTML page.
"""
from __future__ import annotations

import calendar
import hmac
import importlib.util
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit
from typing import Any, Callable

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from chalice.local import ChaliceRequestHandler, LocalGateway, LocalGatewayException

from coursehub_local import aws_calls

SERVICE = "execute-api"
MAX_SKEW_SECONDS = 300
# "Length, in characters, of the URL for an edge-optimized API: 8192" (a regional API: 10240), a quota that cannot be
# increased (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-execution-service-limits-table.html).
# Chalice deploys an edge-optimized API unless told otherwise, and the project does not tell it otherwise. What a
# longer URL is answered is not documented (no gateway response type covers it): the stand-in answers 414 (RFC 9110
# 15.5.15, a target longer than the server will interpret) in the error shape.
MAX_URL_CHARACTERS = 8192
_AUTHORIZATION = re.compile(r"^AWS4-HMAC-SHA256 Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]+)$")


@dataclass(frozen=True)
class Identity:
    """The caller API Gateway verified."""

    access_key: str
    user_arn: str
    account_id: str


class Refused(Exception):
    """403 from the gateway: ``code`` is API Gateway's response type."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


class _FixedTimeAuth(SigV4Auth):
    """SigV4 header signer at a given timestamp (to recompute a caller's signature)."""

    def __init__(self, credentials: Credentials, region: str, timestamp: str):
        super().__init__(credentials, SERVICE, region)
        self._timestamp = timestamp

    def signature_at(self, request: AWSRequest) -> str:
        request.context["timestamp"] = self._timestamp
        return self.signature(self.string_to_sign(request, self.canonical_request(request)), request)


def verify(method: str, url: str, headers: dict[str, str], body: bytes | None, region: str,
           identity_for: Callable[[str], tuple[str, Identity] | None], now: float | None = None) -> Identity:
    """The caller, if ``headers`` carry a valid SigV4 signature of this request; Refused otherwise."""
    lowered = {k.lower(): v for k, v in headers.items()}
    lowered.setdefault("host", urlsplit(url).netloc)  # HTTP/1.1 always sends it; botocore signs it from the URL
    authorization = lowered.get("authorization")
    if not authorization:
        raise Refused("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
    match = _AUTHORIZATION.match(authorization.strip())
    amz_date = lowered.get("x-amz-date", "")
    if not match or not re.fullmatch(r"\d{8}T\d{6}Z", amz_date):
        raise Refused("INCOMPLETE_SIGNATURE", "Authorization header requires 'Credential', 'SignedHeaders' and "
                      "'Signature' parameters and an 'X-Amz-Date' header.")
    credential, signed, signature = match.groups()
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or parts[1] != amz_date[:8]:
        raise Refused("INCOMPLETE_SIGNATURE", "Credential should be scoped to a valid date and 'aws4_request'.")
    access_key, _, scope_region, service, _ = parts
    if service != SERVICE or scope_region != region:
        raise Refused("INVALID_SIGNATURE", f"Credential should be scoped to correct service and region: "
                      f"'{SERVICE}' in '{region}'.")
    known = identity_for(access_key)
    if known is None:
        raise Refused("UNAUTHORIZED", "The security token included in the request is invalid.")
    signed_names = signed.split(";")
    if "host" not in signed_names or any(name not in lowered for name in signed_names):
        raise Refused("INVALID_SIGNATURE", "Signed headers must include host and be present in the request.")
    issued = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
    if abs((time.time() if now is None else now) - issued) > MAX_SKEW_SECONDS:
        raise Refused("INVALID_SIGNATURE", "Signature expired: the request's X-Amz-Date is more than 5 minutes "
                      "from the server's time.")
    secret_key, identity = known
    request = AWSRequest(method=method, url=url, data=body or b"",
                         headers={name: lowered[name] for name in signed_names})
    expected = _FixedTimeAuth(Credentials(access_key, secret_key, lowered.get("x-amz-security-token")), region,
                              amz_date).signature_at(request)
    if not hmac.compare_digest(expected, signature):
        raise Refused("INVALID_SIGNATURE", "The request signature we calculated does not match the signature you "
                      "provided. Check your AWS Secret Access Key and signing method.")
    return identity


class Containers:
    """Instances of the app, each serving one request at a time; a new one is loaded when all are busy."""

    def __init__(self, app_file: Path):
        self._app_file = app_file
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self.started = 0

    def acquire(self) -> Any:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            number = next(self._numbers)
        spec = importlib.util.spec_from_file_location(f"coursehub_api_container_{number}", self._app_file)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # a cold start: the app's module state is this container's own
        with self._lock:
            self.started += 1
        return module.app

    def release(self, app: Any) -> None:
        with self._lock:
            self._idle.append(app)


class _Handler(ChaliceRequestHandler):
    """One HTTP request: verify the signature, then run the route in a free container."""

    def __init__(self, request: Any, client_address: Any, server: Any, gateway: "ApiGateway") -> None:
        self._gateway = gateway
        # ChaliceRequestHandler builds a LocalGateway per request; ours is built per container in _generic_handle.
        super().__init__(request, client_address, server, app_object=gateway.placeholder, config=gateway.lambda_config)

    def _generic_handle(self) -> None:
        host = self.headers.get("host") or "%s:%s" % self.server.server_address[:2]
        if len(f"http://{host}{self.path}") > MAX_URL_CHARACTERS:
            self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG, f"the URL is longer than the {MAX_URL_CHARACTERS} "
                            "characters API Gateway accepts")
            return
        headers, body = self._parse_payload()
        try:
            identity = verify(self.command, f"http://{host}{self.path}", headers, body, self._gateway.region,
                              self._gateway.identity_for)
        except Refused as refused:
            self._send_http_response(403, {"x-amzn-ErrorType": refused.code, "Content-Type": "application/json"},
                                     json.dumps({"code": refused.code, "message": refused.message}))
            return
        app = self._gateway.containers.acquire()
        try:
            gateway = _IdentifiedGateway(app, self._gateway.lambda_config, identity)
            with aws_calls.running("api_handler"):
                response = gateway.handle_request(method=self.command, path=self.path, headers=headers, body=body)
            out_headers = {**response["headers"], **response["multiValueHeaders"]}
            self._send_http_response(response["statusCode"], out_headers, self._handle_binary(response)["body"])
        except LocalGatewayException:  # no such route: API Gateway answers 403 as well
            self._send_http_response(403, {"Content-Type": "application/json"},
                                     json.dumps({"code": "MISSING_AUTHENTICATION_TOKEN",
                                                 "message": "Missing Authentication Token"}))
        finally:
            self._gateway.containers.release(app)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """A refusal of the gateway's own (http.server's too: a request line over 64 KiB, too many or too long
        headers, a malformed request line, an unknown method) as JSON in the API's error shape, not an HTML page."""
        status = HTTPStatus(code)
        data = json.dumps({"code": status.name, "message": message or status.phrase}).encode()
        self.close_connection = True
        self.send_response(code, status.phrase)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet, like the stack's other servers
        pass


class _IdentifiedGateway(LocalGateway):
    """Chalice's local gateway, with the verified caller in the event as API Gateway puts it."""

    def __init__(self, app: Any, config: Any, identity: Identity):
        super().__init__(app, config)
        self._identity = identity
        self._authorizer = self  # the IAM check is done (Chalice's own would let IAM routes through, with a warning)

    def authorize(self, raw_path: str, lambda_event: dict, lambda_context: Any) -> tuple[dict, Any]:
        return lambda_event, lambda_context

    def _generate_lambda_event(self, method: str, path: str, headers: Any, body: Any) -> dict:
        event = super()._generate_lambda_event(method, path, headers, body)
        event["requestContext"].setdefault("identity", {}).update(
            accessKey=self._identity.access_key, userArn=self._identity.user_arn, caller=self._identity.access_key,
            accountId=self._identity.account_id)
        return event


class ApiGateway:
    """The REST API of ``app_file`` on ``host:port`` (0: a free port)."""

    def __init__(self, app_file: Path, region: str, identity_for: Callable[[str], tuple[str, Identity] | None],
                 host: str = "127.0.0.1", port: int = 0, lambda_timeout: int = 29, memory: int = 256):
        self.region = region
        self.identity_for = identity_for
        self.containers = Containers(app_file)
        self.placeholder = self.containers.acquire()
        self.containers.release(self.placeholder)
        self.lambda_config = SimpleNamespace(lambda_timeout=lambda_timeout, function_name="api_handler",
                                             lambda_memory_size=memory)
        self._server = ThreadingHTTPServer((host, port), partial(_Handler, gateway=self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "ApiGateway":
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-stack-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
