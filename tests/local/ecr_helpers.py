"""What the ECR tests share: a client, a fresh prefix, a docker config from a fresh token, policies."""
from __future__ import annotations

import json
import uuid

import pytest

KEEP_FIVE = json.dumps({"rules": [{"rulePriority": 1, "description": "keep the last five",
                                   "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                                                 "countNumber": 5},
                                   "action": {"type": "expire"}}]})
PULL_ONLY = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Sid": "pull", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["ecr:BatchGetImage"]}]})


@pytest.fixture
def ecr(stack):
    return stack.client("ecr")


@pytest.fixture
def prefix(ecr):
    """A fresh prefix; its template (if a test made one) is deleted afterwards."""
    name = f"hub-{uuid.uuid4().hex[:8]}"
    yield name
    try:
        ecr.delete_repository_creation_template(prefix=name)
    except ecr.exceptions.TemplateNotFoundException:
        pass


def host(stack):
    """The stack account's private registry host in the stack's region."""
    account = stack.client("sts").get_caller_identity()["Account"]
    return f"{account}.dkr.ecr.{stack.config.region}.amazonaws.com"


def docker_config(ecr):
    """What ``docker login`` (or the BinderHub chart) writes for a fresh token."""
    data = ecr.get_authorization_token()["authorizationData"][0]
    return {"auths": {data["proxyEndpoint"]: {"auth": data["authorizationToken"]}}}


def on_push(ecr, prefix, **extra):
    """A creation template for ``prefix`` applied to CREATE_ON_PUSH."""
    return ecr.create_repository_creation_template(prefix=prefix, appliedFor=["CREATE_ON_PUSH"], **extra)
