"""Injected AWS errors: answered to the app's calls only, for the named operation, as many times as asked."""
import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from coursehub_local.stack import CREDENTIALS


def app_client(stack, service):
    """A client like the app's functions get: no stack marker, no retries of its own."""
    return boto3.client(service, endpoint_url=stack.endpoint, region_name=stack.config.region,
                        config=Config(retries={"mode": "standard", "total_max_attempts": 1}), **CREDENTIALS)


@pytest.fixture(autouse=True)
def no_faults_left(stack):
    yield
    stack.faults.clear()


def test_a_rest_json_operation_is_throttled_as_many_times_as_asked(stack):
    eks = app_client(stack, "eks")
    fault = stack.faults.inject("eks", "ListClusters", times=2)
    for _ in range(2):
        with pytest.raises(ClientError) as raised:
            eks.list_clusters()
        assert raised.value.response["Error"]["Code"] == "ThrottlingException"
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    eks.list_clusters()
    assert (fault.answered, fault.remaining) == (2, 0)


def test_only_the_named_operation_is_faulted_and_the_stack_itself_never(stack):
    fault = stack.faults.inject("eks", "DescribeCluster", times=1)
    app_client(stack, "eks").list_clusters()  # GET /clusters is not GET /clusters/{name}
    stack.client("eks").list_clusters()
    with pytest.raises(ClientError) as raised:
        stack.client("eks").describe_cluster(name="nothing-here")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"  # moto answered, not the fault
    assert fault.answered == 0
    with pytest.raises(ClientError) as raised:
        app_client(stack, "eks").describe_cluster(name="nothing-here")
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"


@pytest.mark.parametrize("service, operation, call", [
    ("ec2", "DescribeVolumes", lambda c: c.describe_volumes()),  # ec2 query protocol
    ("elb", "DescribeLoadBalancers", lambda c: c.describe_load_balancers()),  # query protocol
    ("dynamodb", "ListTables", lambda c: c.list_tables()),  # JSON protocol
    ("route53", "ListHostedZones", lambda c: c.list_hosted_zones()),  # REST-XML protocol
])
def test_every_protocol_carries_the_error_code_botocore_parses(stack, service, operation, call):
    stack.faults.inject(service, operation, code="RequestLimitExceeded", status=503)
    with pytest.raises(ClientError) as raised:
        call(app_client(stack, service))
    assert raised.value.response["Error"]["Code"] == "RequestLimitExceeded"
    call(app_client(stack, service))


def test_an_unknown_operation_is_refused_when_injected(stack):
    with pytest.raises(Exception, match="NoSuchOperation|OperationNotFound"):
        stack.faults.inject("eks", "NoSuchOperation")
