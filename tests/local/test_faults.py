"""Injected AWS errors: answered to the app's calls only, for the named operation, as many times as asked."""
import json
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from coursehub_local.faults import FaultRejected
from coursehub_local.stack import CREDENTIALS
from tests.local.aws_request_samples import ARN, NO_VALIDATION, app_operations, call
from tests.local.test_smoke_workflow import run_smoke


def app_client(stack, service):
    """A client like the app's functions get: no stack marker, no retries of its own."""
    return boto3.session.Session().client(service, endpoint_url=stack.endpoint, region_name=stack.config.region,
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
    with pytest.raises(FaultRejected, match="NoSuchOperation") as refused:
        stack.faults.inject("eks", "NoSuchOperation")
    assert refused.value.field == "operation"
    assert stack.faults.listed() == []


@pytest.mark.parametrize("service, operation", app_operations())
def test_every_operation_the_app_calls_can_be_faulted(stack, service, operation):
    client = boto3.session.Session().client(service, endpoint_url=stack.endpoint, region_name=stack.config.region,
                          config=NO_VALIDATION, **CREDENTIALS)
    fault = stack.faults.inject(service, operation, times=1)
    with pytest.raises(ClientError) as raised:
        call(client, operation)
    assert raised.value.response["Error"]["Code"] == fault.code
    assert fault.answered == 1


def test_an_operation_with_an_arn_in_its_path_is_faulted(stack):
    eks = boto3.session.Session().client("eks", endpoint_url=stack.endpoint, region_name=stack.config.region, config=NO_VALIDATION,
                       **CREDENTIALS)
    fault = stack.faults.inject("eks", "AssociateAccessPolicy", kind="denied")
    with pytest.raises(ClientError) as raised:
        eks.associate_access_policy(clusterName="c1", principalArn=ARN, policyArn=ARN,
                                    accessScope={"type": "cluster"})
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert fault.answered == 1


def test_a_greedy_label_is_faulted_for_its_operation_only(stack):
    s3 = boto3.session.Session().client("s3", endpoint_url=stack.endpoint, region_name=stack.config.region, config=NO_VALIDATION,
                      **CREDENTIALS)
    fault = stack.faults.inject("s3", "GetObjectAcl", code="SlowDown", status=503)
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket="no-such-bucket", Key="a/b/c.txt")
    assert raised.value.response["Error"]["Code"] == "NoSuchBucket"  # moto answered GetObject
    with pytest.raises(ClientError) as raised:
        s3.get_object_acl(Bucket="no-such-bucket", Key="a/b/c.txt")
    assert raised.value.response["Error"]["Code"] == "SlowDown"
    assert fault.answered == 1


def test_a_fault_for_one_resource_spares_the_others_and_lasts_until_cleared(stack):
    eks = app_client(stack, "eks")
    fault = stack.faults.inject("eks", "DescribeCluster", times=None, resource="hub-a")
    for _ in range(3):
        with pytest.raises(ClientError) as raised:
            eks.describe_cluster(name="hub-a")
        assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    with pytest.raises(ClientError) as raised:
        eks.describe_cluster(name="hub-b")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert (fault.answered, fault.remaining) == (3, None)
    assert stack.faults.clear() == 1
    with pytest.raises(ClientError) as raised:
        eks.describe_cluster(name="hub-a")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize("service, kind, code, status", [
    ("lambda", "throttled", "TooManyRequestsException", 429),
    ("ec2", "throttled", "RequestLimitExceeded", 503),
    ("route53", "throttled", "ThrottlingException", 400),  # declared so in Route53's model
    ("elb", "throttled", "Throttling", 400),
    ("dynamodb", "throttled", "ThrottlingException", 400),
    ("lambda", "denied", "AccessDeniedException", 403),
    ("eks", "throttled", "ThrottlingException", 429),
    ("eks", "denied", "AccessDeniedException", 403),
    ("dynamodb", "denied", "AccessDeniedException", 400),
    ("ec2", "denied", "UnauthorizedOperation", 403),
    ("elb", "denied", "AccessDenied", 403),
])
def test_each_kind_answers_as_the_service_does(stack, service, kind, code, status):
    operation = dict(app_operations() + [("lambda", "Invoke")]).get(service)
    fault = stack.faults.inject(service, operation, kind=kind)
    assert (fault.code, fault.status) == (code, status)
    client = boto3.session.Session().client(service, endpoint_url=stack.endpoint, region_name=stack.config.region,
                          config=NO_VALIDATION, **CREDENTIALS)
    with pytest.raises(ClientError) as raised:
        call(client, operation)
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


# The faults endpoint, from outside: any program, over HTTP, with what .coursehub/local.json lists.

def http(method, url, body=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_faults_endpoint_injects_lists_and_clears(stack):
    url = stack.details()["faults_url"]
    status, fault = http("POST", url, {"service": "eks", "operation": "AssociateAccessPolicy", "kind": "denied",
                                       "times": 2})
    assert status == 201
    assert {k: fault[k] for k in ("service", "operation", "code", "status", "times", "answered")} == {
        "service": "eks", "operation": "AssociateAccessPolicy", "code": "AccessDeniedException", "status": 403,
        "times": 2, "answered": 0}
    status, other = http("POST", url, {"service": "dynamodb", "operation": "GetItem", "times": None})
    assert (status, other["code"], other["times"]) == (201, "ThrottlingException", None)
    eks = app_client(stack, "eks")
    with pytest.raises(ClientError) as raised:
        eks.associate_access_policy(clusterName="c1", principalArn=ARN, policyArn=ARN,
                                    accessScope={"type": "cluster"})
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    status, listed = http("GET", url)
    assert status == 200
    assert [(f["operation"], f["answered"], f["remaining"]) for f in listed["faults"]] == [
        ("AssociateAccessPolicy", 1, 1), ("GetItem", 0, None)]
    assert http("DELETE", f"{url}/{fault['id']}") == (200, {"cleared": 1})
    assert http("DELETE", f"{url}/{fault['id']}")[0] == 404
    assert http("DELETE", url) == (200, {"cleared": 1})
    assert http("GET", url) == (200, {"faults": []})


@pytest.mark.parametrize("body, field", [
    ({"service": "eks", "operation": "NoSuchOperation"}, "operation"),
    ({"service": "no-such-service", "operation": "ListClusters"}, "service"),
    ({"operation": "ListClusters"}, "service"),
    ({"service": "eks"}, "operation"),
    ({"service": "eks", "operation": "ListClusters", "times": 0}, "times"),
    ({"service": "eks", "operation": "ListClusters", "times": True}, "times"),
    ({"service": "eks", "operation": "ListClusters", "times": 1.5}, "times"),
    ({"service": "eks", "operation": "ListClusters", "status": 200}, "status"),
    ({"service": "eks", "operation": "ListClusters", "status": "429"}, "status"),
    ({"service": "eks", "operation": "ListClusters", "code": "not a code"}, "code"),
    ({"service": "eks", "operation": "ListClusters", "kind": "slow"}, "kind"),
    ({"service": "eks", "operation": "ListClusters", "kind": 1}, "kind"),
    ({"service": "eks", "operation": "ListClusters", "message": ["x"]}, "message"),
    ({"service": "eks", "operation": "ListClusters", "operations": "typo"}, "operations"),
    ({"service": "dynamodb", "operation": "GetItem", "resource": "hubs"}, "resource"),
    ({"service": ["eks"], "operation": "ListClusters"}, "service"),
])
def test_the_faults_endpoint_refuses_bad_input_naming_the_field(stack, body, field):
    url = stack.details()["faults_url"]
    status, answer = http("POST", url, body)
    assert status == 400
    assert answer["field"] == field and answer["message"]
    assert http("GET", url) == (200, {"faults": []})


@pytest.mark.parametrize("method, path, raw, status", [
    ("POST", "", b"not json", 400),
    ("POST", "", b"[1]", 400),
    ("POST", "", b"[" * 5000, 400),
    ("POST", "", b"{}" + b" " * 20000, 413),
    ("PUT", "", b"{}", 405),
    ("GET", "/1", None, 405),
    ("DELETE", "/x", None, 404),
])
def test_the_faults_endpoint_answers_4xx_in_the_api_error_shape(stack, method, path, raw, status):
    code, answer = http(method, stack.details()["faults_url"] + path, raw=raw)
    assert code == status
    assert set(answer) >= {"code", "message"}


# Lambda throttling the Invoke Step Functions makes for a Task: Step Functions names it Lambda.<code>.

@pytest.mark.parametrize("function", ["coursehub-smoke-dev-smoke_poll", "coursehub-dev-notify_slack"])
def test_a_throttled_task_invoke_is_retried_by_the_asl(stack, function):
    """smoke_poll is called by ARN ("Resource": its ARN); notify_slack through arn:aws:states:::lambda:invoke."""
    fault = stack.faults.inject("lambda", "Invoke", times=2, resource=function)
    assert fault.code == "TooManyRequestsException"
    status, history = run_smoke(stack, f"throttled-{function.rsplit('-', 1)[-1]}")
    assert status["status"] == "SUCCEEDED", status
    assert fault.answered == 2
    errors = [event.get("lambdaFunctionFailedEventDetails", event.get("taskFailedEventDetails"))["error"]
              for event in history if event["type"] in ("LambdaFunctionFailed", "TaskFailed")]
    assert errors.count("Lambda.TooManyRequestsException") == 2


def test_a_task_throttled_past_its_retries_fails_the_run_naming_lambdas_error(stack):
    fault = stack.faults.inject("lambda", "Invoke", times=None, resource="coursehub-smoke-dev-smoke_poll")
    status, history = run_smoke(stack, "throttled-for-good")
    assert status["status"] == "FAILED"
    assert status["error"] == "Lambda.TooManyRequestsException"
    assert "Status Code: 429" in status["cause"]
    assert fault.answered == 5  # the first try and the shared Retry's 4 (coursehub/task_errors.py)


def test_the_stack_and_tests_invoking_a_function_are_never_throttled(stack):
    fault = stack.faults.inject("lambda", "Invoke", times=None, resource="coursehub-smoke-dev-smoke_square")
    answer = stack.client("lambda").invoke(FunctionName="coursehub-smoke-dev-smoke_square",
                                           Payload=json.dumps({"value": 3}))
    assert json.loads(answer["Payload"].read()) == {"value": 3, "square": 9}
    assert fault.answered == 0
