"""Throttling and 5xx from AWS become AwsTransientError (retried by the state machines); the rest stays as it was."""
import pytest
from botocore.exceptions import ClientError

from chalicelib import aws_retry


def error(code, status):
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "DescribeCluster")


@pytest.mark.parametrize("code, status", [("ThrottlingException", 400), ("TooManyRequestsException", 429),
                                          ("RequestLimitExceeded", 503), ("ServerException", 500), ("", 429)])
def test_throttling_and_server_errors_are_transient(code, status):
    transient = aws_retry.transient(error(code, status))
    assert transient is not None and "DescribeCluster failed with" in str(transient)


@pytest.mark.parametrize("code, status", [("ResourceNotFoundException", 404), ("InvalidParameterException", 400),
                                          ("AccessDeniedException", 403)])
def test_client_mistakes_are_not(code, status):
    assert aws_retry.transient(error(code, status)) is None
