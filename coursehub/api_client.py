"""A client of the CourseHub REST API that signs every request with SigV4, as API Gateway's IAM authorization wants.

``ApiClient.deployed(url)`` uses the caller's AWS credentials (the usual boto3
chain); ``ApiClient.local(details)`` the local stack's, from ``.coursehub/local.json``.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

TIMEOUT_SECONDS = 35  # API Gateway gives up after 29 s


@dataclass
class Answer:
    """An HTTP answer: status, headers (lower-case names) and the JSON body (None if there was none)."""

    status: int
    headers: dict[str, str]
    body: Any


class ApiFailure(Exception):
    """The API answered 4xx or 5xx; the message is its ``code`` and ``message``."""

    def __init__(self, answer: Answer):
        body = answer.body if isinstance(answer.body, dict) else {}
        field = f" (field {body['field']})" if body.get("field") else ""
        super().__init__(f"HTTP {answer.status} {body.get('code', '')}: {body.get('message', answer.body)}{field}")
        self.answer = answer


class ApiClient:
    def __init__(self, url: str, credentials: Credentials | None, region: str):
        self.url = url.rstrip("/")
        self.credentials = credentials
        self.region = region

    @classmethod
    def deployed(cls, url: str, region: str | None = None) -> "ApiClient":
        import boto3

        session = boto3.Session(region_name=region)
        credentials = session.get_credentials()
        return cls(url, credentials.get_frozen_credentials() if credentials else None,
                   region or session.region_name or _region_of(url))

    @classmethod
    def local(cls, details: dict) -> "ApiClient":
        if not details.get("api_url"):
            raise ValueError("the local stack's details have no api_url; is it running?")
        return cls(details["api_url"], Credentials(details["aws_access_key_id"], details["aws_secret_access_key"]),
                   details["region"])

    # The API's routes.

    def create(self, request: dict, idempotency_key: str | None = None) -> Answer:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self.call("POST", "/hubs", body=request, headers=headers)

    def hubs(self, status: str | None = None, limit: int | None = None, next_token: str | None = None) -> Answer:
        query = {k: v for k, v in (("status", status), ("limit", limit), ("next", next_token)) if v is not None}
        return self.call("GET", "/hubs", query=query)

    def get(self, hub_id: str) -> Answer:
        return self.call("GET", f"/hubs/{quote(hub_id, safe='')}")

    def update(self, hub_id: str, changes: dict) -> Answer:
        return self.call("PATCH", f"/hubs/{quote(hub_id, safe='')}", body=changes)

    def retire(self, hub_id: str) -> Answer:
        return self.call("DELETE", f"/hubs/{quote(hub_id, safe='')}")

    def retry(self, hub_id: str) -> Answer:
        return self.call("POST", f"/hubs/{quote(hub_id, safe='')}/retry")

    def check(self, hub_id: str) -> Answer:
        return self.call("POST", f"/hubs/{quote(hub_id, safe='')}/check")

    # HTTP.

    def call(self, method: str, path: str, *, body: Any = None, headers: dict | None = None,
             query: dict | None = None, raw: bytes | None = None, sign: bool = True, check: bool = True) -> Answer:
        """Send one request; ApiFailure on 4xx/5xx when ``check``. ``raw`` sends bytes as they are."""
        url = self.url + path + (f"?{urlencode(query)}" if query else "")
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        all_headers = {"Content-Type": "application/json", **(headers or {})} if data is not None \
            else dict(headers or {})
        if sign:
            all_headers = self.signed(method, url, all_headers, data)
        request = urllib.request.Request(url, data=data, headers=all_headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                answer = Answer(response.status, _lower(response.headers), _json(response.read()))
        except urllib.error.HTTPError as error:
            answer = Answer(error.code, _lower(error.headers), _json(error.read()))
        if check and answer.status >= 400:
            raise ApiFailure(answer)
        return answer

    def signed(self, method: str, url: str, headers: dict, data: bytes | None) -> dict:
        """``headers`` plus SigV4's (service ``execute-api``)."""
        if self.credentials is None:
            raise ApiFailure(Answer(0, {}, {"code": "NoCredentials", "message": "no AWS credentials found"}))
        request = AWSRequest(method=method, url=url, data=data or b"", headers=headers)
        SigV4Auth(self.credentials, "execute-api", self.region).add_auth(request)
        return dict(request.headers.items())


def _lower(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in (headers.items() if headers else [])}


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def _region_of(url: str) -> str:
    """``https://<id>.execute-api.<region>.amazonaws.com/...`` -> region."""
    host = url.split("//", 1)[-1].split("/", 1)[0]
    parts = host.split(".")
    return parts[2] if len(parts) > 3 and parts[1] == "execute-api" else "us-east-1"
