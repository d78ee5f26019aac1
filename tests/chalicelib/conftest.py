"""Fixtures of the step tests: the hub table as an in-memory twin and as moto's DynamoDB, and a recorded hub.

Every test that takes ``dynamodb`` runs twice, once on each store (the pattern of the Chalice samples'
in-memory and DynamoDB stores), so the twin cannot drift from DynamoDB unnoticed.
"""
from __future__ import annotations

import contextlib
import io
import itertools
import json
import logging

import boto3
import pytest
from moto import mock_aws

from chalicelib import hub_records, steps
from chalicelib.hub_request import HubRequest
from chalicelib.settings import Settings
from tests.chalicelib.hub_table_twin import InMemoryHubTable
from tests.chalicelib.test_hub_request import ARN, GOOD

HUB = "hub-cs101"
# A session of its own: clients of boto3's default session would keep moto's fake credentials for later tests.
SESSION = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                region_name="us-east-1")


@pytest.fixture
def aws():
    """moto's AWS in this process, fresh for each test; ``aws(service)`` is a client of it."""
    with mock_aws():
        yield lambda service: SESSION.client(service)


@pytest.fixture(params=["in-memory", "dynamodb"])
def dynamodb(request, aws):
    """The hub table's client: the in-memory twin, or moto's DynamoDB with the deployed table's key."""
    if request.param == "in-memory":
        return InMemoryHubTable()
    client = aws("dynamodb")
    client.create_table(TableName="coursehub-hubs", BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "hub_id", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "hub_id", "KeyType": "HASH"}])
    return client


@pytest.fixture
def settings(tmp_path):
    return Settings(
        stage="dev", hub_table_name="coursehub-hubs", slack_webhook_secret_arn=ARN, tools_dir=str(tmp_path),
        cluster_role_arn="arn:aws:iam::123456789012:role/coursehub-dev-cluster",
        node_role_arn="arn:aws:iam::123456789012:role/coursehub-dev-node",
        ebs_csi_role_arn="arn:aws:iam::123456789012:role/coursehub-dev-ebs-csi",
        kube_role_arns=("arn:aws:iam::123456789012:role/coursehub-dev-kube",),
        subnet_ids=("subnet-b", "subnet-a1", "subnet-a2"), schedule_group="coursehub-dev",
        scheduler_role_arn="arn:aws:iam::123456789012:role/coursehub-dev-scheduler",
        teardown_state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:coursehub-dev-teardown",
        notify_function_arn="arn:aws:lambda:us-east-1:123456789012:function:coursehub-dev-notify_slack",
        scale_function_arn="arn:aws:lambda:us-east-1:123456789012:function:coursehub-dev-scale_hub",
        registry_login_function_arn="arn:aws:lambda:us-east-1:123456789012:function:coursehub-dev-renew_registry_login",
        ecr_creation_role_arn="arn:aws:iam::123456789012:role/coursehub-dev-ecr-creation")


@pytest.fixture
def ec2():
    """The settings' subnets: subnet-b in use1-az2, subnet-a1 and subnet-a2 in use1-az1."""
    from tests.chalicelib.fakes import FakeEc2
    return FakeEc2({"subnet-b": "use1-az2", "subnet-a1": "use1-az1", "subnet-a2": "use1-az1"})


@pytest.fixture
def request_data():
    """A stored request, as the first step accepted it."""
    return HubRequest.stored(GOOD).model_dump(mode="json")


@pytest.fixture
def hub(dynamodb, settings, request_data):
    """A recorded hub; ``hub(step, **fields)`` is the event a Task of that state name is given."""
    hub_records.create(dynamodb, settings.hub_table_name, HUB, request_data, cluster="coursehub-dev-cs101")

    def event(step: str, **fields) -> dict:
        return {"hub_id": HUB, "request": request_data, "step": step, **fields}

    return event


@pytest.fixture
def record(dynamodb, settings):
    """``record()`` is the hub's record as the API reads it."""
    return lambda: hub_records.get(dynamodb, settings.hub_table_name, HUB)


@pytest.fixture
def clock(monkeypatch):
    """The hub record's clock, one second further at each reading: a poll's start time is seen to be kept."""
    ticks = itertools.count()

    def now() -> str:
        tick = next(ticks)
        return f"2026-11-27T{12 + tick // 3600:02d}:{tick // 60 % 60:02d}:{tick % 60:02d}+00:00"

    monkeypatch.setattr(hub_records, "now", now)


@pytest.fixture
def logged():
    """``logged()`` is the Powertools log lines written since the last call, as dicts."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(steps.logger.registered_formatter)  # the JSON lines CloudWatch gets
    steps.logger.addHandler(handler)

    def lines() -> list[dict]:
        text = stream.getvalue()
        stream.seek(0)
        stream.truncate()
        return [json.loads(line) for line in text.splitlines()]

    yield lines
    steps.logger.removeHandler(handler)


@pytest.fixture
def eks():
    """The fake EKS the step tests share (tests/chalicelib/fakes.py)."""
    from tests.chalicelib.fakes import FakeEks

    return FakeEks()


@pytest.fixture
def runner(tmp_path, monkeypatch):
    """helm and kubectl on the hub's cluster, as ``steps.kube`` would give them."""
    from tests.chalicelib.fakes import FakeRunner

    fake = FakeRunner(str(tmp_path))
    monkeypatch.setattr(steps, "kube", lambda clients, settings, request: contextlib.nullcontext(fake))
    return fake
