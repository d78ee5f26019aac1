"""Operations are recognised from requests as botocore sends them: every operation of the services the app uses."""
from __future__ import annotations

import functools
import io
from urllib.parse import unquote, urlsplit

import boto3
import pytest

from coursehub_local.aws_requests import call_of
from tests.local.aws_request_samples import ARN, NO_VALIDATION, app_operations, call, params


class Sent(Exception):
    def __init__(self, request):
        self.request = request


@functools.cache
def capturing_client(service: str):
    """A client whose requests are captured instead of sent."""
    client = boto3.session.Session().client(service, endpoint_url="http://127.0.0.1:1", region_name="us-east-1",
                          aws_access_key_id="k", aws_secret_access_key="s", config=NO_VALIDATION)

    def capture(request, **_):
        raise Sent(request)

    client.meta.events.register("before-send", capture)
    return client


def sent(service: str, operation: str, **overrides):
    """The request botocore sends for ``operation``."""
    with pytest.raises(Sent) as raised:
        call(capturing_client(service), operation, **overrides)
    return raised.value.request


def environ(request) -> dict:
    """The WSGI environ werkzeug's server makes of ``request`` (RAW_URI as sent, PATH_INFO decoded)."""
    url = urlsplit(request.url)
    body = request.body or b""
    body = body.encode() if isinstance(body, str) else body if isinstance(body, bytes) else body.read()
    headers = {f"HTTP_{k.upper().replace('-', '_')}": (v.decode() if isinstance(v, bytes) else v)
               for k, v in request.headers.items()}
    return {**headers, "REQUEST_METHOD": request.method, "PATH_INFO": unquote(url.path),
            "RAW_URI": url.path + (f"?{url.query}" if url.query else ""), "QUERY_STRING": url.query,
            "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}, body


def recognised(service, operation, **overrides):
    env, body = environ(sent(service, operation, **overrides))
    found = call_of(service, env, body)
    return operation if found and operation in found.operations else found and found.operations


@pytest.mark.parametrize("service", ["eks", "lambda", "route53", "scheduler", "s3"])
def test_every_operation_of_a_rest_service_is_recognised_from_its_request(service):
    model = boto3.session.Session().client(service, region_name="us-east-1").meta.service_model
    overrides = {"Bucket": "a-bucket", "RequestRoute": "r"} if service == "s3" else {}  # botocore checks these
    wrong = {}
    for operation in model.operation_names:
        found = recognised(service, operation, **{k: v for k, v in overrides.items()
                                                  if k in model.operation_model(operation).input_shape.members})
        if found != operation:
            wrong[operation] = found
    assert wrong == {}


@pytest.mark.parametrize("service, operation", app_operations())
def test_every_operation_the_app_calls_is_recognised(service, operation):
    assert recognised(service, operation) == operation


def test_an_arn_in_a_label_is_matched_encoded_and_read_decoded():
    request = sent("eks", "AssociateAccessPolicy", clusterName="c1", principalArn=ARN)
    assert "/access-entries/arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fteam%2Fa-role/" in request.url
    env, body = environ(request)
    assert env["PATH_INFO"].count("/") == 7  # decoded, the ARN adds two segments: no route has that shape
    found = call_of("eks", env, body)
    assert (found.operation, found.labels) == ("AssociateAccessPolicy", {"name": "c1", "principalArn": ARN})


def test_a_greedy_label_spans_segments_and_query_keys_make_a_route_more_specific():
    assert recognised("s3", "GetObject", Bucket="b", Key="a/b/c.txt") == "GetObject"
    assert recognised("s3", "GetObjectAcl", Bucket="b", Key="a/b/c.txt") == "GetObjectAcl"
    assert recognised("s3", "GetBucketAcl", Bucket="b") == "GetBucketAcl"
    assert recognised("s3", "ListObjects", Bucket="b") == "ListObjects"


def test_query_and_json_operations_are_told_apart_by_version_and_target():
    env, body = environ(sent("elb", "DescribeLoadBalancers"))
    assert call_of("elb", env, body).operation == "DescribeLoadBalancers"
    assert call_of("elbv2", env, body) is None  # same Action, other API version
    env, body = environ(sent("dynamodb", "PutItem"))
    assert call_of("dynamodb", env, body).operation == "PutItem"
    assert call_of("secretsmanager", env, body) is None


def test_the_sample_parameters_fill_every_label():
    assert params("eks", "AssociateAccessPolicy")["principalArn"] == ARN
