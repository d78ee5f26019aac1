"""The teardown state machine: nothing left behind, from any state a hub can be in."""
import json
import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

from chalicelib import hub_names, hub_records, hub_schedules
from chalicelib.hub_request import HubRequest
from coursehub.api_client import ApiClient
from tests.conftest import eventually
from tests.local.test_provision_workflow import hub_request, provision


def teardown(stack, hub_id, timeout=120):
    sfn = stack.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=stack.seeded.state_machines["teardown"],
                              input=json.dumps({"hub_id": hub_id, "reason": "a test retires it"}))["executionArn"]
    return _finished(sfn, arn, timeout)


def _finished(sfn, arn, timeout=120):
    described = eventually(lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
                           timeout=timeout)
    return described, sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]


def record_of(stack, hub_id):
    return hub_records.get(stack.client("dynamodb"), stack.seeded.environment["HUB_TABLE_NAME"], hub_id)


def ready_hub(stack, letter):
    course = f"{letter}{uuid.uuid4().hex[:6]}"
    described, _ = provision(stack, f"hub-{course}", hub_request(stack, course))
    assert described["status"] == "SUCCEEDED", described.get("cause")
    return course, f"hub-{course}", f"coursehub-{stack.config.stage}-{course}"


def test_a_teardown_that_fails_half_way_names_the_step_and_completes_when_started_again(stack):
    course, hub_id, cluster = ready_hub(stack, "h")
    before = len(stack.slack.messages())
    stack.faults.inject("eks", "DeleteNodegroup", code="AccessDeniedException", status=403,
                        message="not authorized to perform eks:DeleteNodegroup")
    try:
        described, _ = teardown(stack, hub_id)
    finally:
        stack.faults.clear()
    assert described["status"] == "FAILED" and described["error"] == "TeardownFailed"
    record = record_of(stack, hub_id)
    assert record["status"] == "FAILED" and record["error"]["step"] == "Delete the node group"
    assert "AccessDeniedException" in record["error"]["cause"]
    failure = stack.slack.texts()[-1]
    assert f'Retiring {hub_id} failed at step "Delete the node group"' in failure and "Start the teardown again" in failure
    assert stack.client("eks").describe_cluster(name=cluster)["cluster"]["status"] == "ACTIVE"  # stopped there

    described, history = teardown(stack, hub_id)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    record = record_of(stack, hub_id)
    assert record["status"] == "RETIRED" and record["audit"]["clean"], record["audit"]
    assert record["steps"]["Uninstall the releases"]["detail"] == "nothing installed"  # the rerun found them gone
    secrets = stack.client("secretsmanager")
    values = [secrets.get_secret_value(SecretId=a)["SecretString"] for a in stack.seeded.secrets.values()]
    values += list(json.loads(values[[*stack.seeded.secrets].index("dockerhub")]).values())
    seen = json.dumps(history, default=str) + json.dumps(stack.slack.messages()) + json.dumps(record, default=str)
    assert not [v for v in values if len(v) > 8 and v in seen]
    assert cluster not in stack.client("eks").list_clusters()["clusters"]
    texts = stack.slack.texts()[before:]
    assert texts[-1].startswith(f"The BinderHub of course {course} is retired") and "nothing left behind" in texts[-1]


def test_a_hub_whose_provisioning_failed_after_the_cluster_is_rolled_back_and_audited_clean(stack):
    course = f"r{uuid.uuid4().hex[:6]}"
    hub_id, cluster = f"hub-{course}", f"coursehub-{stack.config.stage}-{course}"
    request = {**hub_request(stack, course), "chart_versions": {"binderhub": "9.9.9"}, "rollback_on_failure": True}
    described, _ = provision(stack, hub_id, request)
    assert described["status"] == "FAILED"
    assert record_of(stack, hub_id)["error"]["step"] == "Install BinderHub"

    sfn = stack.client("stepfunctions")
    started = eventually(lambda: [e["executionArn"] for e in sfn.list_executions(
        stateMachineArn=stack.seeded.state_machines["teardown"])["executions"]
        if json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])["hub_id"] == hub_id])
    described, _ = _finished(sfn, started[0])
    assert described["status"] == "SUCCEEDED", described.get("cause")
    record = record_of(stack, hub_id)
    assert record["status"] == "RETIRED" and record["audit"]["clean"], record["audit"]
    assert record["retire_reason"] == "provisioning failed and the request asked for a rollback"
    assert cluster not in stack.client("eks").list_clusters()["clusters"]
    assert not [b for b in stack.client("elb").describe_load_balancers()["LoadBalancerDescriptions"]
                if _tagged_for(stack.client("elb"), b["LoadBalancerName"], cluster)]


def test_something_left_behind_is_found_by_the_audit_reported_by_id_and_cleaned(stack):
    course, hub_id, cluster = ready_hub(stack, "o")
    ec2, elb = stack.client("ec2"), stack.client("elb")
    # Tagged as the cluster's controllers tag what they make: for the cluster, and with the hub's tags (the Service
    # annotation, the EBS CSI driver's extra tags), without which the audit may not delete it.
    tag = [{"Key": f"kubernetes.io/cluster/{cluster}", "Value": "owned"},
           *({"Key": k, "Value": v} for k, v in hub_names.tags(stack.config.stage, hub_id, course).items())]
    volume = ec2.create_volume(Size=10, AvailabilityZone=f"{stack.config.region}a",
                               TagSpecifications=[{"ResourceType": "volume", "Tags": tag}])["VolumeId"]
    stray = f"a{uuid.uuid4().hex[:20]}"  # what a Service created outside the releases leaves behind
    elb.create_load_balancer(LoadBalancerName=stray, AvailabilityZones=[f"{stack.config.region}a"], Tags=tag,
                             Listeners=[{"Protocol": "TCP", "LoadBalancerPort": 80, "InstancePort": 30080}])
    # A Service's leftovers of other kinds: a target group, a security group another group's rule names, and a
    # network interface nobody uses.
    vpc, subnet = stack.seeded.vpc_id, stack.seeded.subnet_ids[0]
    target_group = stack.client("elbv2").create_target_group(
        Name=f"k8s-{uuid.uuid4().hex[:12]}", Protocol="TCP", Port=80, VpcId=vpc,
        Tags=tag)["TargetGroups"][0]["TargetGroupArn"]
    groups = [ec2.create_security_group(GroupName=f"k8s-{name}-{uuid.uuid4().hex[:8]}", Description="left behind",
                                        VpcId=vpc, TagSpecifications=[{"ResourceType": "security-group",
                                                                       "Tags": tag}])["GroupId"]
              for name in ("elb", "shared")]
    ec2.authorize_security_group_ingress(GroupId=groups[1], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "UserIdGroupPairs": [{"GroupId": groups[0]}]}])
    interface = ec2.create_network_interface(SubnetId=subnet, Groups=[groups[1]], TagSpecifications=[
        {"ResourceType": "network-interface", "Tags": tag}])["NetworkInterface"]["NetworkInterfaceId"]
    before = len(stack.slack.messages())

    described, _ = teardown(stack, hub_id)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    audit = record_of(stack, hub_id)["audit"]
    assert volume in audit["found"]["volumes"] and stray in audit["found"]["classic_load_balancers"]
    assert volume in audit["cleaned"]["volumes"] and stray in audit["cleaned"]["classic_load_balancers"]
    assert target_group in audit["cleaned"]["target_groups"]
    assert set(groups) <= set(audit["cleaned"]["security_groups"])
    assert interface in audit["cleaned"]["network_interfaces"]
    assert audit["clean"], audit
    summary = stack.slack.texts()[before:][-1]
    assert volume in summary and stray in summary, summary
    assert not ec2.describe_volumes(Filters=[{"Name": "volume-id", "Values": [volume]}])["Volumes"]


def _tagged_for(elb, name, cluster):
    tags = elb.describe_tags(LoadBalancerNames=[name])["TagDescriptions"][0]["Tags"]
    return any(t["Key"] == f"kubernetes.io/cluster/{cluster}" for t in tags)


def hub_volume(stack, cluster):
    """The EBS volume behind the hub's database claim."""
    store = stack.clusters.server(cluster).store
    [claim] = [c for c in store.list(store.resource_type("v1", "PersistentVolumeClaim"))[0]
               if c["metadata"]["name"] == "hub-db-dir"]
    pv = store.get_object("v1", "PersistentVolume", None, claim["spec"]["volumeName"])
    return pv["spec"]["csi"]["volumeHandle"]


def retired_without_a_volume(stack, hub_id, cluster, volume):
    """The hub is RETIRED, its volume deleted by the cluster's driver (not by the audit), nothing left behind."""
    record = record_of(stack, hub_id)
    assert record["status"] == "RETIRED" and record["audit"]["clean"], record["audit"]
    assert record["audit"]["found"]["volumes"] == [], record["audit"]  # nothing for the audit to clean
    assert record["steps"]["Bring back a node for the teardown"]["detail"] == \
        "scaled from 0 to 1 node(s) for the teardown"
    assert record["steps"]["Check a node is ready"]["detail"] == "1 Ready node(s)"
    assert not stack.client("ec2").describe_volumes(Filters=[{"Name": "volume-id", "Values": [volume]}])["Volumes"]
    assert not stack.client("ec2").describe_volumes(Filters=[
        {"Name": "tag-key", "Values": [f"kubernetes.io/cluster/{cluster}"]}])["Volumes"]
    assert cluster not in stack.client("eks").list_clusters()["clusters"]
    return record


def test_the_term_end_teardown_after_the_nightly_scale_down_brings_a_node_back_and_leaves_no_volume(stack):
    from tests.local.test_hub_lifecycle import ZONE, _advance_to, _nodegroup, _occurrences, _teardown_of

    course = f"n{uuid.uuid4().hex[:6]}"
    hub_id, cluster = f"hub-{course}", hub_names.cluster_name(stack.config.stage, course)
    local_now = stack.clock.now().astimezone(ZoneInfo(ZONE))
    request = {**hub_request(stack, course), "timezone": ZONE,
               "term_end": (local_now.date() + timedelta(days=1)).isoformat(),
               "scaling": {"down_at": "20:00", "up_at": "07:00", "weekdays_only": False}}
    scheduler, group = stack.client("scheduler"), stack.seeded.schedule_group
    try:
        described, _ = provision(stack, hub_id, request)
        assert described["status"] == "SUCCEEDED", described.get("cause")
        volume = hub_volume(stack, cluster)
        events = _occurrences(stack, hub_id)
        names = [name for _, name in events]
        assert names[-2:] == ["scale-down", "teardown"], events  # 20:00, then 23:00 on the term's last day
        sfn = stack.client("stepfunctions")
        for at, name in events:
            _advance_to(stack, at)
            if name == "teardown":
                teardown_run = eventually(lambda: _teardown_of(stack, hub_id), timeout=30)
                eventually(lambda: sfn.describe_execution(executionArn=teardown_run)["status"] != "RUNNING",
                           timeout=180)
                described = sfn.describe_execution(executionArn=teardown_run)
            else:
                direction = name.removeprefix("scale-")
                eventually(lambda: record_of(stack, hub_id)["scale"]["direction"] == direction, timeout=30)
                eventually(lambda: _nodegroup(stack, cluster)["status"] == "ACTIVE", timeout=30)
                if name == names[-2]:
                    assert _nodegroup(stack, cluster)["scalingConfig"]["desiredSize"] == 0
                    eventually(lambda: not _instances(stack, cluster), timeout=30)  # no node at 23:00
        assert described["status"] == "SUCCEEDED", described.get("cause")
    finally:
        hub_schedules.delete_all(scheduler, group, hub_id)
    retired_without_a_volume(stack, hub_id, cluster, volume)


def test_a_delete_with_the_node_group_at_zero_brings_a_node_back_and_leaves_no_volume(stack):
    course, hub_id, cluster = ready_hub(stack, "z")
    volume = hub_volume(stack, cluster)
    scaled = stack.client("lambda").invoke(FunctionName=f"coursehub-{stack.config.stage}-scale_hub",
                                           Payload=json.dumps({"hub_id": hub_id, "direction": "down"}))
    assert "FunctionError" not in scaled, scaled["Payload"].read()  # what the nightly schedule does
    stack.clock.advance(stack.config.eks.nodegroup_update)
    eks = stack.client("eks")
    eventually(lambda: eks.describe_nodegroup(clusterName=cluster, nodegroupName="workers")["nodegroup"]["status"]
               == "ACTIVE")
    eventually(lambda: not _instances(stack, cluster))

    api = ApiClient.local(stack.details())
    assert api.retire(hub_id).status == 202
    sfn = stack.client("stepfunctions")
    [run] = eventually(lambda: [e["executionArn"] for e in sfn.list_executions(
        stateMachineArn=stack.seeded.state_machines["teardown"])["executions"] if e["name"].startswith(hub_id + "-")])
    described, _ = _finished(sfn, run, timeout=180)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    record = retired_without_a_volume(stack, hub_id, cluster, volume)
    assert [s["name"] for s in api.get(hub_id).body["steps"]][:3] == [
        "Bring back a node for the teardown", "Check a node is ready", "Uninstall the releases"]
    assert record["audit"]["summary"].startswith("nothing left behind")


def _instances(stack, cluster):
    reservations = stack.client("ec2").describe_instances(Filters=[
        {"Name": "tag:eks:cluster-name", "Values": [cluster]},
        {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]
    return [i for r in reservations for i in r["Instances"]]


def test_a_teardown_and_its_audit_touch_only_their_stages_cluster_and_leftovers(stack):
    """prod's cluster of the same course and hub id, and what is tagged for it, stay; what lacks the stage's tag is
    reported, not deleted (the audit's IAM policy would refuse it)."""
    course = f"s{uuid.uuid4().hex[:6]}"
    hub_id, stage = f"hub-{course}", stack.config.stage
    mine, prods = hub_names.cluster_name(stage, course), hub_names.cluster_name("prod", course)
    eks, ec2 = stack.client("eks"), stack.client("ec2")
    eks.create_cluster(name=prods, roleArn=stack.seeded.roles["eks-cluster"],
                       tags=hub_names.tags("prod", hub_id, course), resourcesVpcConfig={"subnetIds": stack.seeded.subnet_ids})

    def volume(cluster, tags):
        spec = [{"Key": f"kubernetes.io/cluster/{cluster}", "Value": "owned"},
                *({"Key": k, "Value": v} for k, v in tags.items())]
        return ec2.create_volume(Size=1, AvailabilityZone=f"{stack.config.region}a", TagSpecifications=[
            {"ResourceType": "volume", "Tags": spec}])["VolumeId"]

    ours = volume(mine, hub_names.tags(stage, hub_id, course))
    untagged = volume(mine, {})
    theirs = volume(prods, hub_names.tags("prod", hub_id, course))
    request = HubRequest.stored(hub_request(stack, course)).model_dump(mode="json")
    table = stack.seeded.environment["HUB_TABLE_NAME"]
    hub_records.create(stack.client("dynamodb"), table, hub_id, request, cluster=mine)
    hub_records.set_status(stack.client("dynamodb"), table, hub_id, "READY")

    described, _ = teardown(stack, hub_id)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    audit = record_of(stack, hub_id)["audit"]
    assert audit["cleaned"]["volumes"] == [ours]
    assert audit["remaining"]["volumes"] == [{"id": untagged, "reason": f"not tagged coursehub:stage={stage} nor for "
                                              "a cluster of the stage; left alone (the audit may not delete it)"}]
    assert theirs not in audit["found"]["volumes"] and prods not in audit["found"]["eks_clusters"]
    assert eks.describe_cluster(name=prods)["cluster"]["tags"][hub_names.STAGE_TAG] == "prod"
    left = {v["VolumeId"] for v in ec2.describe_volumes(VolumeIds=[untagged, theirs])["Volumes"]}
    assert left == {untagged, theirs}
