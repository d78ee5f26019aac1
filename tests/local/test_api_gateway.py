"""The stand-in API Gateway's SigV4 check and its Lambda containers, without a stack."""
import time
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from coursehub_local.api_gateway import Containers, Identity, Refused, verify

URL = "http://127.0.0.1:9999/hubs/hub-cs101?status=READY"
CALLER = Identity("AKIAEXAMPLE000000000", "arn:aws:iam::123456789012:user/teacher", "123456789012")
KEYS = {CALLER.access_key: ("the-secret", CALLER)}


def signed(method="GET", url=URL, body=b"", secret="the-secret", region="us-east-1", service="execute-api",
           access_key=CALLER.access_key):
    request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(access_key, secret), service, region).add_auth(request)
    return dict(request.headers.items())


def check(headers, method="GET", url=URL, body=b"", now=None):
    return verify(method, url, headers, body, "us-east-1", KEYS.get, now=now)


def test_a_request_signed_with_a_known_key_is_the_callers():
    assert check(signed()) == CALLER
    body = b'{"course_id": "cs101"}'
    assert check(signed("POST", body=body), "POST", body=body) == CALLER


@pytest.mark.parametrize("change, code", [
    (lambda h: h.pop("Authorization"), "MISSING_AUTHENTICATION_TOKEN"),
    (lambda h: h.update(Authorization="AWS4-HMAC-SHA256 nonsense"), "INCOMPLETE_SIGNATURE"),
    (lambda h: h.pop("X-Amz-Date"), "INCOMPLETE_SIGNATURE"),
    (lambda h: h.update(**signed(secret="wrong")), "INVALID_SIGNATURE"),
    (lambda h: h.update(**signed(region="eu-west-1")), "INVALID_SIGNATURE"),
    (lambda h: h.update(**signed(service="s3")), "INVALID_SIGNATURE"),
    (lambda h: h.update(**signed(access_key="AKIAUNKNOWN000000000")), "UNAUTHORIZED"),
    (lambda h: h.update(**signed(url=URL.replace("READY", "FAILED"))), "INVALID_SIGNATURE"),
])
def test_anything_else_is_refused_with_api_gateways_response_type(change, code):
    headers = signed()
    change(headers)
    with pytest.raises(Refused) as refused:
        check(headers)
    assert refused.value.code == code


def test_a_body_changed_after_signing_or_an_old_signature_is_refused():
    headers = signed("POST", body=b'{"a": 1}')
    with pytest.raises(Refused):
        check(headers, "POST", body=b'{"a": 2}')
    with pytest.raises(Refused, match="expired"):
        check(signed(), now=time.time() + 600)


def test_each_container_serves_one_request_at_a_time_and_busy_ones_get_company():
    containers = Containers(Path(__file__).resolve().parents[2] / "app.py")
    first = containers.acquire()
    second = containers.acquire()  # the first is busy: a cold start
    assert first is not second and containers.started == 2
    containers.release(first)
    assert containers.acquire() is first and containers.started == 2  # a warm one is reused
