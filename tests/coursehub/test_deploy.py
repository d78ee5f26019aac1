"""``coursehub deploy``: the dry run reads the package without AWS; a deploy uploads to S3, then makes a change set.

S3 is moto's (in-process ``mock_aws``); CloudFormation is botocore's Stubber,
since moto does not run the SAM transform the template needs.
"""
import hashlib
import json
import re
import sys
from datetime import datetime, timezone

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from coursehub import cli, deploy, packaging

SLACK_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:coursehub/slack-AbCdEf"
SMALL_TEMPLATE = {
    "Parameters": {"SlackWebhookSecretArn": {"Type": "String"},
                   "LogRetentionDays": {"Type": "Number", "Default": 30, "AllowedValues": [30, 90]}},
    "Resources": {
        "NotifySlack": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "./deployment.zip"}},
        "ScaleHub": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "./deployment.zip"}},
        "KubectlLayer": {"Type": "AWS::Serverless::LayerVersion", "Properties": {"ContentUri": "./kubectl-layer.zip"}},
        "HubTable": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
    },
}


class Matching:
    """Equal to any string the pattern matches in full (for the Stubber's expected parameters)."""

    def __init__(self, pattern):
        self.pattern = pattern

    def __eq__(self, other):
        return isinstance(other, str) and re.fullmatch(self.pattern, other) is not None

    def __ne__(self, other):
        return not self == other

    def __repr__(self):
        return f"Matching({self.pattern!r})"


class Session:
    """What ``deploy.deploy`` takes from a boto3 session: its region and its clients."""

    def __init__(self, region_name, **clients):
        self.region_name, self.clients = region_name, clients

    def client(self, name):
        return self.clients[name]


@pytest.fixture
def package_dir(tmp_path):
    (tmp_path / "deployment.zip").write_bytes(b"the app")
    (tmp_path / "kubectl-layer.zip").write_bytes(b"helm and kubectl")
    return tmp_path


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="deploys")
        yield client


@pytest.fixture
def no_aws(monkeypatch):
    """Any boto3 client or session made from here on fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("the dry run must not reach AWS")
    monkeypatch.setattr(boto3, "client", refuse)
    monkeypatch.setattr(boto3, "Session", refuse)


def test_the_dry_run_lints_and_shows_resources_parameters_and_grants_without_aws(packaged, monkeypatch, capsys, no_aws):
    monkeypatch.setattr(packaging, "package", lambda stage: packaged if stage == "dev" else None)
    code = cli.main(["deploy", "--stage", "dev", "--dry-run", "--parameter", f"SlackWebhookSecretArn={SLACK_ARN}",
                     "--parameter", "SubnetIds=subnet-0a1,subnet-0b2"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"cfn-lint: {packaged / 'sam.json'} is clean" in out
    assert re.search(rf"SlackWebhookSecretArn +{SLACK_ARN}  \(given\)", out)
    assert re.search(r"LogRetentionDays +30  \(default\)", out)
    assert re.search(r"AWS::Serverless::Function \(43\)\n", out)
    assert re.search(r"EksClusterRole +coursehub-dev-eks-cluster\n", out)
    assert re.search(r"APIHandlerLogGroup +/aws/lambda/coursehub-dev-api_handler\n", out)
    assert "AWS::EC2::VPC" not in out and "not created with these parameters: InternetGateway, PublicRoute," in out
    assert re.search(r"coursehub-dev-install_release +1024 MB +600 s +\d+ actions  \+ kubectl/helm layer\n", out)
    assert re.search(r"coursehub-dev-audit_hub .*\n(      on \*: .*\n)*      on \*: eks:ListClusters\n", out)
    assert "A deploy needs" not in out


def test_the_plan_without_subnets_shows_the_vpc_and_what_a_deploy_still_needs(packaged, monkeypatch, capsys, no_aws):
    monkeypatch.setattr(packaging, "package", lambda stage: packaged)
    monkeypatch.setattr(packaging, "lint", lambda package_dir, region=None: None)
    assert cli.main(["plan", "--stage", "dev"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"AWS::EC2::Subnet \(2\)\n +PublicSubnetA +coursehub-dev \(Name tag\)\n", out)
    assert re.search(r"SlackWebhookSecretArn +REQUIRED, not given", out)
    assert out.rstrip().endswith("A deploy needs --parameter SlackWebhookSecretArn=...")


@pytest.mark.parametrize("given, problem", [
    ({"SlackWebhookSecret": SLACK_ARN}, "no parameter SlackWebhookSecret "),
    ({"SlackWebhookSecretArn": "https://hooks.slack.com/services/T/B/x"}, "SlackWebhookSecretArn: 'https://hooks"),
    ({"LogRetentionDays": "31"}, "LogRetentionDays: '31' is not one of 1, 3, 5, 7, 14, 30,"),
    ({"MaxNodesPerHub": "451"}, "MaxNodesPerHub: '451' is not a number in [1, 450]"),
    ({"SubnetIds": "subnet-0a1"}, "SubnetIds: give two or more subnet ids"),
])
def test_a_parameter_the_template_would_refuse_stops_before_anything_is_sent(packaged, given, problem):
    template = json.loads((packaged / "sam.json").read_text())
    with pytest.raises(deploy.DeployError) as refused:
        deploy.check_parameters(template, given)
    assert problem in str(refused.value)


def test_a_deploy_without_region_or_bucket_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["deploy", "--stage", "dev", "--bucket", "deploys"])
    assert exited.value.code == 2 and "needs --region and --bucket" in capsys.readouterr().err


def test_uploads_are_named_for_their_content_and_the_template_points_at_them(packaged, s3, capsys):
    template = json.loads((packaged / "sam.json").read_text())
    rewritten = deploy.upload_artifacts(s3, "deploys", "dev", packaged, template, sys.stdout)
    code = hashlib.sha256((packaged / "deployment.zip").read_bytes()).hexdigest()
    layer = hashlib.sha256((packaged / "kubectl-layer.zip").read_bytes()).hexdigest()
    uris = {r["Properties"].get("CodeUri") or r["Properties"].get("ContentUri")
            for r in rewritten["Resources"].values() if r["Type"] in deploy.ARTIFACTS}
    assert uris == {f"s3://deploys/coursehub/dev/{code}/deployment.zip",
                    f"s3://deploys/coursehub/dev/{layer}/kubectl-layer.zip"}
    stored = s3.get_object(Bucket="deploys", Key=f"coursehub/dev/{layer}/kubectl-layer.zip")["Body"].read()
    assert stored == (packaged / "kubectl-layer.zip").read_bytes()
    assert template["Resources"]["NotifySlack"]["Properties"]["CodeUri"] == "./deployment.zip"  # a copy was rewritten


def test_an_unchanged_zip_is_not_uploaded_again(package_dir, s3, capsys):
    deploy.upload_artifacts(s3, "deploys", "dev", package_dir, SMALL_TEMPLATE, sys.stdout)
    first = capsys.readouterr().out.splitlines()
    deploy.upload_artifacts(s3, "deploys", "dev", package_dir, SMALL_TEMPLATE, sys.stdout)
    again = capsys.readouterr().out.splitlines()
    code = f"s3://deploys/coursehub/dev/{hashlib.sha256(b'the app').hexdigest()}/deployment.zip"
    assert first[0] == f"uploading deployment.zip (0.0 MB) to {code}" and len(first) == 2
    assert again[0] == f"{code}: already there" and again[1].endswith("/kubectl-layer.zip: already there")


def test_the_template_is_uploaded_and_read_from_s3(s3):
    url = deploy.upload_template(s3, "deploys", "dev", SMALL_TEMPLATE)
    key = re.fullmatch(r"https://deploys\.s3\.us-east-1\.amazonaws\.com/(coursehub/dev/[0-9a-f]{64}/template\.json)",
                       url).group(1)
    assert json.loads(s3.get_object(Bucket="deploys", Key=key)["Body"].read()) == SMALL_TEMPLATE


def test_a_bucket_in_another_region_is_refused(s3):
    s3.create_bucket(Bucket="elsewhere", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    with pytest.raises(deploy.DeployError, match="bucket elsewhere is in eu-west-1, the stack goes to us-east-1"):
        deploy.check_bucket_region(s3, "elsewhere", "us-east-1")


def stacks(status, **extra):
    return {"Stacks": [{"StackName": "coursehub-dev", "StackStatus": status,
                        "CreationTime": datetime(2026, 11, 1, tzinfo=timezone.utc), **extra}]}


def test_a_new_stack_is_created_through_a_change_set_and_its_api_url_printed(package_dir, s3, capsys):
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    endpoint = "https://abc123.execute-api.us-east-1.amazonaws.com/api/"
    with Stubber(cfn) as stub:
        stub.add_client_error("describe_stacks", "ValidationError", "Stack with id coursehub-dev does not exist",
                              expected_params={"StackName": "coursehub-dev"})
        change_set = {"StackName": "coursehub-dev", "ChangeSetName": Matching(r"coursehub-\d{8}-\d{6}")}
        stub.add_response("create_change_set", {"Id": "cs-1"}, {
            **change_set, "ChangeSetType": "CREATE",
            "TemplateURL": Matching(r"https://deploys\.s3\.us-east-1\.amazonaws\.com/coursehub/dev/[0-9a-f]{64}/"
                                    r"template\.json"),
            "Parameters": [{"ParameterKey": "SlackWebhookSecretArn", "ParameterValue": SLACK_ARN}],
            "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]})
        stub.add_response("describe_change_set", {"Status": "CREATE_COMPLETE"}, change_set)
        stub.add_response("describe_change_set", {"Status": "CREATE_COMPLETE", "Changes": [
            {"Type": "Resource", "ResourceChange": {"Action": "Add", "LogicalResourceId": "HubTable",
                                                    "ResourceType": "AWS::DynamoDB::Table"}}]}, change_set)
        stub.add_response("execute_change_set", {}, change_set)
        stub.add_response("describe_stacks", stacks("CREATE_COMPLETE"), {"StackName": "coursehub-dev"})
        stub.add_response("describe_stacks", stacks("CREATE_COMPLETE", Outputs=[
            {"OutputKey": "EndpointURL", "OutputValue": endpoint}]), {"StackName": "coursehub-dev"})
        outputs = deploy.deploy(Session("us-east-1", s3=s3, cloudformation=cfn), SMALL_TEMPLATE, package_dir, "dev",
                                "deploys", {"SlackWebhookSecretArn": SLACK_ARN}, sys.stdout)
        stub.assert_no_pending_responses()
    assert outputs["EndpointURL"] == endpoint
    out = capsys.readouterr().out
    assert "(CREATE): 1 to add, 0 to modify, 0 to remove" in out
    assert out.rstrip().endswith(f"coursehub-dev: CREATE_COMPLETE; API at {endpoint}")
    uploaded = s3.list_objects_v2(Bucket="deploys")["Contents"]
    template = json.loads(s3.get_object(Bucket="deploys", Key=next(
        o["Key"] for o in uploaded if o["Key"].endswith("template.json")))["Body"].read())
    assert template["Resources"]["KubectlLayer"]["Properties"]["ContentUri"].startswith("s3://deploys/coursehub/dev/")


def test_an_update_keeps_previous_parameter_values_and_stops_when_nothing_changed(package_dir, s3, capsys):
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    previous = [{"ParameterKey": "SlackWebhookSecretArn", "ParameterValue": SLACK_ARN},
                {"ParameterKey": "ClusterRoleArn", "ParameterValue": "arn:aws:iam::123456789012:role/coursehub-old"}]
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stacks("UPDATE_COMPLETE", Parameters=previous))
        stub.add_response("create_change_set", {"Id": "cs-2"}, {
            "StackName": "coursehub-dev", "ChangeSetName": ANY, "ChangeSetType": "UPDATE", "TemplateURL": ANY,
            "Capabilities": ANY,
            "Parameters": [{"ParameterKey": "SlackWebhookSecretArn", "UsePreviousValue": True},
                           {"ParameterKey": "LogRetentionDays", "ParameterValue": "90"}]})
        stub.add_response("describe_change_set", {"Status": "FAILED", "StatusReason": "The submitted information "
                                                  "didn't contain changes. Submit different information to create a "
                                                  "change set."})
        stub.add_response("delete_change_set", {})
        stub.add_response("describe_stacks", stacks("UPDATE_COMPLETE"))
        deploy.deploy(Session("us-east-1", s3=s3, cloudformation=cfn), SMALL_TEMPLATE, package_dir, "dev",
                      "deploys", {"LogRetentionDays": "90"}, sys.stdout)
        stub.assert_no_pending_responses()
    assert "coursehub-dev: no changes to deploy" in capsys.readouterr().out


@pytest.mark.parametrize("status, problem", [("ROLLBACK_COMPLETE", "delete-stack --stack-name coursehub-dev"),
                                             ("UPDATE_IN_PROGRESS", "busy (UPDATE_IN_PROGRESS)")])
def test_a_stack_that_cannot_take_a_change_set_is_named_before_anything_is_uploaded(package_dir, s3, status, problem):
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    with Stubber(cfn) as stub, pytest.raises(deploy.DeployError, match=re.escape(problem)):
        stub.add_response("describe_stacks", stacks(status))
        deploy.deploy(Session("us-east-1", s3=s3, cloudformation=cfn), SMALL_TEMPLATE, package_dir, "dev",
                      "deploys", {"SlackWebhookSecretArn": SLACK_ARN}, sys.stdout)
    assert "Contents" not in s3.list_objects_v2(Bucket="deploys")


def test_a_new_stack_needs_every_parameter_without_a_default(package_dir, s3):
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    with Stubber(cfn) as stub, pytest.raises(deploy.DeployError, match="--parameter SlackWebhookSecretArn=..."):
        stub.add_client_error("describe_stacks", "ValidationError", "Stack with id coursehub-dev does not exist")
        deploy.deploy(Session("us-east-1", s3=s3, cloudformation=cfn), SMALL_TEMPLATE, package_dir, "dev",
                      "deploys", {}, sys.stdout)
    assert "Contents" not in s3.list_objects_v2(Bucket="deploys")
