"""The provisioning state machine on the local stack: a request becomes a verified HTTPS BinderHub."""
import json
import uuid
from datetime import date, timedelta

import pytest

from chalicelib import hub_names, hub_records
from tests.conftest import eventually


def hub_request(stack, course, domain=None):
    secrets = stack.seeded.secrets
    return {"course_id": course, "domain": domain or f"{course}.courses.example.edu",
            "term_end": (date.today() + timedelta(days=100)).isoformat(),
            "image_prefix": f"coursehub/{course}-", "acme_email": "ops@example.edu", "acme_staging": True,
            "nodes": {"instance_type": "m5.large", "min_size": 1, "desired_size": 1, "max_size": 2},
            "dockerhub_secret_arn": secrets["dockerhub"], "github_token_secret_arn": secrets["github"],
            "slack_webhook_secret_arn": secrets["slack"]}


def ecr_request(stack, course, domain=None):
    """The same hub with its images in the account's ECR: no DockerHub prefix or account."""
    request = {**hub_request(stack, course, domain), "registry": "ecr"}
    del request["image_prefix"], request["dockerhub_secret_arn"]
    return request


def provision(stack, hub_id, request, timeout=120):
    sfn = stack.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=stack.seeded.state_machines["provision"],
                              input=json.dumps({"hub_id": hub_id, "request": request}))["executionArn"]
    described = eventually(lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
                           timeout=timeout)
    history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return described, history


def report_delivered(stack, execution_arn):
    """Wait until EventBridge has passed the run's end to report_execution_end and the function has returned."""
    return eventually(lambda: [d for d in stack.event_bus.delivered if d.resources == (execution_arn,)
                               and d.target_arn.endswith(":function:coursehub-dev-report_execution_end")])


def blocks_of(message):
    """What a message's Block Kit says: its fields by name, and its execution's console link (if any)."""
    fields = dict(f["text"].split("\n", 1) for b in message["blocks"] if "fields" in b for f in b["fields"])
    context = [e["text"] for b in message["blocks"] if b["type"] == "context" for e in b["elements"]]
    return fields, "".join(context)


def console_link(execution_arn):
    console = "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1"
    return f"{console}#/v2/executions/details/{execution_arn}|"


def test_a_request_provisions_to_ready_with_the_whole_story_on_slack(stack):
    course = f"p{uuid.uuid4().hex[:6]}"
    hub_id = f"hub-{course}"
    before = len(stack.slack.messages())
    described, history = provision(stack, hub_id, hub_request(stack, course))
    assert described["status"] == "SUCCEEDED", described.get("cause")

    record = hub_records.get(stack.client("dynamodb"), stack.seeded.environment["HUB_TABLE_NAME"], hub_id)
    assert record["status"] == "READY"
    assert record["urls"] == {"binder": f"https://binder.{course}.courses.example.edu",
                              "hub": f"https://hub.binder.{course}.courses.example.edu"}
    for step in ("Create the cluster", "Check the cluster is active", "Install BinderHub",
                 "Fix the load balancer health check", "Publish DNS", "Check the certificates are issued",
                 "Verify the hub over HTTPS"):
        assert record["steps"][step]["outcome"] == "SUCCEEDED", step
        assert record["steps"][step]["started_at"] <= record["steps"][step]["ended_at"]

    texts = stack.slack.texts()[before:]
    assert texts[0].startswith(f"Provisioning the BinderHub of course {course} started")
    assert [t.split(":")[1].split(";")[0].strip() for t in texts[1:4]] == [
        f"the EKS cluster coursehub-{stack.config.stage}-{course} and its nodes are up",
        "ingress, cert-manager and BinderHub are installed behind load balancer " + record["load_balancer"],
        "DNS resolves and the TLS certificates are issued"]
    assert texts[-1].startswith(f"The BinderHub of course {course} is ready: https://binder.")
    assert len(texts) == 5
    for message in stack.slack.messages()[before:]:
        fields, context = blocks_of(message)
        assert fields["*Hub*"] == f"`{hub_id}`" and console_link(described["executionArn"]) in context, message
    ready = stack.slack.messages()[-1]
    assert blocks_of(ready)[0]["*Outcome*"] == ":white_check_mark: ready"
    assert [b["url"] for b in ready["blocks"][2]["elements"]] == [record["urls"]["binder"], record["urls"]["hub"]]

    elb = stack.client("elb")
    (balancer,) = [b for b in elb.describe_load_balancers()["LoadBalancerDescriptions"]
                   if b["DNSName"] == record["load_balancer"]]
    http = [listener["Listener"] for listener in balancer["ListenerDescriptions"]
            if listener["Listener"]["LoadBalancerPort"] == 80]
    assert balancer["HealthCheck"]["Target"] == f"TCP:{http[0]['InstancePort']}"  # port 80's NodePort

    secrets = stack.client("secretsmanager")
    values = [secrets.get_secret_value(SecretId=a)["SecretString"] for a in stack.seeded.secrets.values()]
    values += list(json.loads(values[[*stack.seeded.secrets].index("dockerhub")]).values())
    seen = json.dumps(history, default=str) + json.dumps(stack.slack.messages())
    assert not [v for v in values if len(v) > 8 and v in seen]

    # The stage's subnets include one in use1-az3, where EKS makes no cluster: left out; the nodes in one zone
    eks = stack.client("eks")
    cluster_subnets = eks.describe_cluster(name=hub_names.cluster_name(stack.config.stage, course))["cluster"]["resourcesVpcConfig"]["subnetIds"]
    assert stack.seeded.unsupported_subnet_id in stack.seeded.environment["SUBNET_IDS"].split(",")
    assert cluster_subnets == stack.seeded.subnet_ids
    (nodegroup,) = eks.list_nodegroups(clusterName=hub_names.cluster_name(stack.config.stage, course))["nodegroups"]
    node_subnets = eks.describe_nodegroup(clusterName=hub_names.cluster_name(stack.config.stage, course), nodegroupName=nodegroup)["nodegroup"]
    zones = stack.client("ec2").describe_subnets(SubnetIds=node_subnets["subnets"])["Subnets"]
    assert {z["AvailabilityZoneId"] for z in zones} == {"use1-az1"}  # us-east-1b here; by name it was us-east-1a


def test_without_a_hosted_zone_the_records_go_to_slack_the_dns_wait_fails_and_a_rerun_reuses_what_exists(stack):
    course = f"r{uuid.uuid4().hex[:6]}"
    hub_id = f"hub-{course}"
    request = ecr_request(stack, course)
    before = len(stack.slack.messages())
    first, _ = provision(stack, hub_id, {**request, "domain": f"{course}.elsewhere.org"})
    assert first["status"] == "FAILED" and first["error"] == "ProvisioningFailed"
    record = hub_records.get(stack.client("dynamodb"), stack.seeded.environment["HUB_TABLE_NAME"], hub_id)
    assert record["status"] == "FAILED"  # stopped at DNS, after the cluster and the releases existed
    assert (record["error"]["step"], record["error"]["error"]) == ("Check DNS resolves", "DnsNotResolving")
    texts = stack.slack.texts()[before:]
    posted = [t for t in texts if t.startswith(f"No Route53 hosted zone serves {course}.elsewhere.org")]
    assert posted and f"binder.{course}.elsewhere.org 60 IN CNAME " in posted[0]
    assert texts[-1].startswith(f'Provisioning {hub_id} failed at step "Check DNS resolves"')

    again, _ = provision(stack, hub_id, request)  # the admin fixed the domain and started the run again
    assert again["status"] == "SUCCEEDED", again.get("cause")
    clusters = [c for c in stack.client("eks").list_clusters()["clusters"]
                if c == f"coursehub-{stack.config.stage}-{course}"]
    assert clusters == [f"coursehub-{stack.config.stage}-{course}"]
    record = hub_records.get(stack.client("dynamodb"), stack.seeded.environment["HUB_TABLE_NAME"], hub_id)
    assert record["status"] == "READY"
    assert record["steps"]["Create the cluster"]["detail"] == "reused"
    assert record["steps"]["Install BinderHub"]["detail"] == "binderhub revision 2"  # one revision more
    assert record["steps"]["Prepare the image registry"]["detail"].startswith(
        f"ECR template coursehub-{stack.config.stage}/{course} updated")


def test_a_chart_version_the_repository_lacks_fails_the_binderhub_install_with_helms_message(stack):
    course = f"v{uuid.uuid4().hex[:6]}"
    hub_id = f"hub-{course}"
    before = len(stack.slack.messages())
    request = {**hub_request(stack, course), "chart_versions": {"binderhub": "9.9.9"}}
    described, history = provision(stack, hub_id, request)
    assert described["status"] == "FAILED" and described["error"] == "ProvisioningFailed"
    failures = [e["lambdaFunctionFailedEventDetails"] for e in history if e["type"] == "LambdaFunctionFailed"]
    assert [f["error"] for f in failures if f["error"].startswith("Kube")] == ["KubeCommandFailed"]  # not retried

    record = hub_records.get(stack.client("dynamodb"), stack.seeded.environment["HUB_TABLE_NAME"], hub_id)
    assert record["status"] == "FAILED"
    assert record["error"]["step"] == "Install BinderHub"
    assert record["error"]["error"] == "KubeCommandFailed"
    assert 'chart "binderhub" version "9.9.9" not found' in record["error"]["cause"]
    texts = stack.slack.texts()[before:]
    assert texts[-1].startswith(f'Provisioning {hub_id} failed at step "Install BinderHub"')
    assert "9.9.9" in texts[-1]
    fields, context = blocks_of(stack.slack.messages()[-1])
    assert (fields["*Step*"], fields["*Outcome*"]) == ("Install BinderHub", ":x: failed")
    assert console_link(described["executionArn"]) in context


def test_throttled_eks_calls_are_retried_and_the_hub_still_becomes_ready(stack):
    course = f"t{uuid.uuid4().hex[:6]}"
    hub_id = f"hub-{course}"
    # The functions' clients try 3 times each; 4 throttles make one invocation fail, 3 more make another.
    describe = stack.faults.inject("eks", "DescribeCluster", times=4)
    create = stack.faults.inject("eks", "CreateNodegroup", times=3)
    try:
        described, history = provision(stack, hub_id, hub_request(stack, course))
    finally:
        stack.faults.clear()
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert (describe.answered, create.answered) == (4, 3)

    failures = [e["lambdaFunctionFailedEventDetails"] for e in history if e["type"] == "LambdaFunctionFailed"]
    throttled = [f for f in failures if f["error"] == "AwsTransientError"]
    assert len(throttled) == 2 and all("failed with ThrottlingException" in f["cause"] for f in throttled)
    assert all(f["error"] == "AwsTransientError" or f["error"].endswith("NotReady") for f in failures)
    record = hub_records.get(stack.client("dynamodb"), stack.seeded.environment["HUB_TABLE_NAME"], hub_id)
    assert record["status"] == "READY"
    eks = stack.client("eks")
    assert f"coursehub-{stack.config.stage}-{course}" in eks.list_clusters()["clusters"]
    assert len(eks.list_nodegroups(clusterName=f"coursehub-{stack.config.stage}-{course}")["nodegroups"]) == 1


def test_a_request_outside_the_stage_limits_is_refused_by_the_first_step_and_creates_nothing(stack):
    course = f"l{uuid.uuid4().hex[:6]}"
    request = {**hub_request(stack, course), "nodes": {"instance_type": "p4d.24xlarge", "max_size": 40}}
    before = len(stack.slack.messages())
    described, history = provision(stack, f"hub-{course}", request)
    assert described["status"] == "FAILED" and described["error"] == "ProvisioningFailed"

    with pytest.raises(hub_records.HubNotFound):
        hub_records.get(stack.client("dynamodb"), stack.seeded.environment["HUB_TABLE_NAME"], f"hub-{course}")
    assert f"coursehub-{stack.config.stage}-{course}" not in stack.client("eks").list_clusters()["clusters"]
    report_delivered(stack, described["executionArn"])  # the run's end reached report_execution_end, which kept quiet
    (message,) = stack.slack.messages()[before:]
    text = message["text"]
    assert 'failed at step "Record the hub"' in text
    assert "nodes.instance_type" in text and "p4d.24xlarge" in text and "nodes.max_size" in text
    fields, _ = blocks_of(message)
    assert (fields["*Hub*"], fields["*Step*"]) == (f"`hub-{course}`", "Record the hub")


def test_a_run_stopped_by_hand_is_recorded_failed_at_its_step_and_reported_once(stack):
    course = f"s{uuid.uuid4().hex[:6]}"
    hub_id = f"hub-{course}"
    sfn, dynamodb = stack.client("stepfunctions"), stack.client("dynamodb")
    table = stack.seeded.environment["HUB_TABLE_NAME"]
    arn = sfn.start_execution(stateMachineArn=stack.seeded.state_machines["provision"], input=json.dumps(
        {"hub_id": hub_id, "request": hub_request(stack, course, domain=f"{course}.elsewhere.org")}))["executionArn"]
    step = "Check DNS resolves"  # no hosted zone serves the domain: the run polls here for a long while
    eventually(lambda: _get_or_none(dynamodb, table, hub_id).get("current_step") == step, timeout=60)
    before = len(stack.slack.messages())
    sfn.stop_execution(executionArn=arn)
    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
    report_delivered(stack, arn)

    record = hub_records.get(dynamodb, table, hub_id)
    assert record["status"] == "FAILED" and record["execution_arn"] == arn
    assert record["error"]["step"] == step and record["error"]["error"] == "ABORTED"
    assert record["steps"][step]["outcome"] == "FAILED"
    (message,) = stack.slack.messages()[before:]
    assert message["text"].startswith(f'Provisioning {hub_id} was stopped at step "{step}" (ABORTED)')
    fields, context = blocks_of(message)
    assert (fields["*Hub*"], fields["*Step*"], fields["*Outcome*"]) == (f"`{hub_id}`", step, ":octagonal_sign: aborted")
    assert console_link(arn) in context


def _get_or_none(dynamodb, table, hub_id):
    try:
        return hub_records.get(dynamodb, table, hub_id)
    except hub_records.HubNotFound:
        return {}
