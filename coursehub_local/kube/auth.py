"""EKS bearer tokens: ``k8s-aws-v1.`` + a presigned STS GetCallerIdentity URL, verified offline.

Real EKS forwards the URL to STS; here the signature is recomputed with the
caller's secret key (looked up by access key id) and the ``x-k8s-aws-id``
header set to this cluster's name, so a token minted for another cluster
fails. See aws-iam-authenticator's token format:
https://github.com/kubernetes-sigs/aws-iam-authenticator#api-authorization-from-outside-a-cluster
"""
from __future__ import annotations

import base64
import calendar
import hmac
import re
import time
from typing import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit

from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_ID_HEADER = "x-k8s-aws-id"
_STS_HOST = re.compile(r"^sts(\.[a-z0-9-]+)?\.amazonaws\.com(\.cn)?$")
_AUTH_PARAMS = {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
                "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token"}


class _FixedTimeQueryAuth(SigV4QueryAuth):
    """SigV4 query signer that signs at a given timestamp instead of now (to recompute a signature)."""

    def __init__(self, credentials: Credentials, region: str, expires: int, timestamp: str) -> None:
        super().__init__(credentials, "sts", region, expires=expires)
        self._timestamp = timestamp

    def add_auth(self, request: AWSRequest) -> None:
        request.context["timestamp"] = self._timestamp
        self._modify_request_before_signing(request)
        canonical_request = self.canonical_request(request)
        string_to_sign = self.string_to_sign(request, canonical_request)
        self._inject_signature_to_request(request, self.signature(string_to_sign, request))


def decode_token(token: str) -> str | None:
    """The presigned URL inside an EKS token, or None if it is not one."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    body = token[len(TOKEN_PREFIX):]
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def _amz_date_epoch(value: str) -> float:
    return calendar.timegm(time.strptime(value, "%Y%m%dT%H%M%SZ"))


def _expected_signature(url: str, query: dict, cluster_name: str, secret_key: str) -> str:
    """Recompute X-Amz-Signature for ``url`` as botocore signs presigned STS URLs."""
    access_key, date, region, service, terminator = query["X-Amz-Credential"].split("/")
    if service != "sts" or terminator != "aws4_request" or not query["X-Amz-Date"].startswith(date):
        return ""
    credentials = Credentials(access_key, secret_key, query.get("X-Amz-Security-Token"))
    parts = urlsplit(url)
    operation = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in _AUTH_PARAMS]
    request = AWSRequest(method="GET", url=f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(operation)}",
                         headers={CLUSTER_ID_HEADER: cluster_name})
    signer = _FixedTimeQueryAuth(credentials, region, int(query["X-Amz-Expires"]), query["X-Amz-Date"])
    signer.add_auth(request)
    return dict(parse_qsl(urlsplit(request.url).query)).get("X-Amz-Signature", "")


def make_eks_token_verifier(cluster_name: str, secret_key_for: Callable[[str], str | None],
                            now: Callable[[], float] = time.time, max_age: int = 900,
                            sts_endpoints: list[str] | tuple[str, ...] = ()) -> Callable[[str], bool]:
    """A ``verify_token`` for ``KubeApiServer`` that accepts only valid EKS tokens for ``cluster_name``.

    The URL must point at AWS STS over HTTPS or at one of ``sts_endpoints`` (the
    local stack's own STS endpoint, where the stack's boto3 clients presign).
    Like EKS, a token is good for ``max_age`` (15 minutes) from its X-Amz-Date,
    whatever X-Amz-Expires says.
    """
    own_endpoints = {urlsplit(e)[:2] for e in sts_endpoints}

    def verify(token: str) -> bool:
        url = decode_token(token)
        if url is None:
            return False
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        aws_sts = parts.scheme == "https" and _STS_HOST.match(parts.hostname or "")
        if not (aws_sts or parts[:2] in own_endpoints) or parts.path not in ("", "/"):
            return False
        if query.get("Action") != "GetCallerIdentity" or query.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
            return False
        if query.get("X-Amz-SignedHeaders") != f"host;{CLUSTER_ID_HEADER}":
            return False
        try:
            issued = _amz_date_epoch(query["X-Amz-Date"])
            access_key = query["X-Amz-Credential"].split("/")[0]
        except (KeyError, ValueError):
            return False
        if issued + max_age < now():
            return False
        secret_key = secret_key_for(access_key)
        if not secret_key:
            return False
        try:
            expected = _expected_signature(url, query, cluster_name, secret_key)
        except (KeyError, ValueError):
            return False
        return bool(expected) and hmac.compare_digest(expected, query.get("X-Amz-Signature", ""))

    return verify
