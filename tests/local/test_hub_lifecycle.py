"""A hub lives a whole term on the local stack: nightly scale-down, morning scale-up, reminder, term-end teardown;
its images in ECR, pushed by builds whose login its schedule renews every 6 hours."""
import json
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib import hub_records, hub_schedules, https_check, image_registry
from chalicelib.kube_session import cluster_session
from coursehub_local import moto_patches
from coursehub_local.ecr_push import RegistryRefusal
from coursehub_local.schedule_expressions import next_time
from tests.conftest import eventually
from tests.local.rollouts import deployments_ready
from tests.local.test_provision_workflow import ecr_request, provision

ZONE = "America/New_York"


@pytest.fixture
def hub_ids(stack):
    """Hubs of the test; their schedules are deleted afterwards, so a failure does not leave them firing."""
    ids = []
    yield ids
    for hub_id in ids:
        hub_schedules.delete_all(stack.client("scheduler"), stack.seeded.schedule_group, hub_id)


def test_a_hub_lives_a_whole_term_and_leaves_nothing_behind(stack, hub_ids, capfd):
    course = f"w{uuid.uuid4().hex[:6]}"
    hub_id, cluster = f"hub-{course}", f"coursehub-{stack.config.stage}-{course}"
    hub_ids.append(hub_id)
    local_now = stack.clock.now().astimezone(ZoneInfo(ZONE))  # earlier tests may have moved the clock on
    # Well after provisioning, which takes a few stack hours (more on a loaded machine: the clock runs 600 times faster).
    down, up = local_now + timedelta(hours=20), local_now + timedelta(hours=22)
    request = {**ecr_request(stack, course), "timezone": ZONE, "reminder_days": 1,
               "term_end": (local_now.date() + timedelta(days=2)).isoformat(),
               "scaling": {"down_at": f"{down:%H:%M}", "up_at": f"{up:%H:%M}", "weekdays_only": False}}
    before = len(stack.slack.messages())
    described, _ = provision(stack, hub_id, request)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    table, dynamodb = stack.seeded.environment["HUB_TABLE_NAME"], stack.client("dynamodb")
    record = hub_records.get(dynamodb, table, hub_id)
    assert sorted(record["schedules"]) == [f"{hub_id}-{p}" for p in ("registry-login", "reminder", "scale-down",
                                                                      "scale-up", "teardown")]
    assert record["schedules"][f"{hub_id}-registry-login"]["expression"] == "rate(6 hours)"

    # A build's first push creates its repository from the hub's template: tagged, keeping the newest 10 images.
    ecr = stack.client("ecr")
    prefix = image_registry.repository_prefix(stack.config.stage, course)
    (template,) = ecr.describe_repository_creation_templates(prefixes=[prefix])["repositoryCreationTemplates"]
    assert template["appliedFor"] == ["CREATE_ON_PUSH"]
    host = ecr.get_authorization_token()["authorizationData"][0]["proxyEndpoint"].removeprefix("https://")
    first = stack.push_from_cluster(cluster, f"{host}/{prefix}/binder-demo:first")
    assert first.created_repository and first.repository_name == f"{prefix}/binder-demo"
    arn = ecr.describe_repositories(repositoryNames=[first.repository_name])["repositories"][0]["repositoryArn"]
    tags = {t["Key"]: t["Value"] for t in ecr.list_tags_for_resource(resourceArn=arn)["tags"]}
    assert tags == {"coursehub:hub": hub_id, "coursehub:stage": stack.config.stage, "coursehub:course": course}
    policy = json.loads(ecr.get_lifecycle_policy(repositoryName=first.repository_name)["lifecyclePolicyText"])
    assert policy["rules"][0]["selection"]["countNumber"] == 10

    # Without its renewal the builds' login expires after 12 hours, and a push fails as it does on ECR: the renewal
    # schedule is away until "login-expired", 12 hours on, then back as the hub's schedules step made it.
    scheduler, group = stack.client("scheduler"), stack.seeded.schedule_group
    login = scheduler.get_schedule(GroupName=group, Name=f"{hub_id}-registry-login")
    scheduler.delete_schedule(GroupName=group, Name=login["Name"])
    events = _occurrences(stack, hub_id) + [(stack.clock.now() + timedelta(hours=12, minutes=5), "login-expired")]
    renewals = [(record.get("registry_login") or {}).get("expires_at")]
    events.sort()
    print("schedule:", [(name, at.isoformat()) for at, name in events])
    names = [name for _, name in events]
    assert names[-1] == "teardown" and "reminder" in names and names.index("scale-down") < names.index("scale-up")

    seen = {"scale-down": 0, "scale-up": 0}
    while events:
        at, name = events.pop(0)
        _advance_to(stack, at)
        if name in seen:
            seen[name] += 1
            direction = name.removeprefix("scale-")
            eventually(lambda: (r := hub_records.get(dynamodb, table, hub_id))["scale"]["direction"] == direction
                       and r["scale"]["at"], timeout=30)
            eventually(lambda: _nodegroup(stack, cluster)["status"] == "ACTIVE", timeout=30)
            if seen[name] == 1 and direction == "down":
                assert _nodegroup(stack, cluster)["scalingConfig"] == {"minSize": 0, "maxSize": 2, "desiredSize": 0}
                assert hub_records.get(dynamodb, table, hub_id)["scale"]["desired_size"] == 0
                eventually(lambda: not _ready_nodes(stack, cluster), timeout=30)
                pending = eventually(lambda: _workloads(stack, cluster)[1], timeout=30)
                assert "hub" in pending and "binder" in pending, pending  # nothing can run without nodes
            if seen[name] == 1 and direction == "up":
                assert _nodegroup(stack, cluster)["scalingConfig"] == {"minSize": 1, "maxSize": 2, "desiredSize": 1}
                eventually(lambda: not _workloads(stack, cluster)[1], timeout=30)
                eventually(lambda: _answers(record["urls"], stack.details()["acme_staging_roots"]),
                           timeout=30)  # the HTTPS check passes again
        elif name == "login-expired":
            with pytest.raises(RegistryRefusal, match="authorization token has expired"):
                stack.push_from_cluster(cluster, f"{host}/{prefix}/binder-demo:expired")
            scheduler.create_schedule(**{key: login[key] for key in (
                "Name", "GroupName", "ScheduleExpression", "ScheduleExpressionTimezone", "FlexibleTimeWindow",
                "Target", "State", "Description", "ActionAfterCompletion")})
            teardown_at = events[-1][0]
            events = sorted(events + [(when, "registry-login") for when, kind in _occurrences(stack, hub_id)
                                      if kind == "registry-login" and when < teardown_at])
        elif name == "registry-login":
            renewed = eventually(lambda: (hub_records.get(dynamodb, table, hub_id).get("registry_login") or {}).get(
                "expires_at") not in renewals and hub_records.get(dynamodb, table, hub_id)["registry_login"],
                timeout=30)
            renewals.append(renewed["expires_at"])
            if len(renewals) == 2:  # BinderHub restarted to read the new login (it reads it once, at start)
                assert "kubectl.kubernetes.io/restartedAt" in _binder_template_annotations(stack, cluster)
        elif name == "reminder":
            eventually(lambda: any(t.startswith("Reminder: the BinderHub of course " + course)
                                   for t in stack.slack.texts()[before:]), timeout=30)
        else:
            # More than 12 hours after the install's login, the renewed one still pushes.
            assert stack.push_from_cluster(cluster, f"{host}/{prefix}/binder-demo:last").image_tag == "last"
            teardown = eventually(lambda: _teardown_of(stack, hub_id), timeout=30)
            sfn = stack.client("stepfunctions")
            eventually(lambda: sfn.describe_execution(executionArn=teardown)["status"] != "RUNNING", timeout=120)
            assert sfn.describe_execution(executionArn=teardown)["status"] == "SUCCEEDED"
    assert seen["scale-down"] >= 1 and seen["scale-up"] >= 1
    assert len(renewals) >= 3, renewals  # every 6 hours from the expiry to the teardown

    record = hub_records.get(dynamodb, table, hub_id)
    assert record["status"] == "RETIRED" and record["audit"]["clean"], record["audit"]
    print("audit:", json.dumps(record["audit"]["found"]))
    assert set(record["audit"]["found"]) >= {"eks_clusters", "eks_nodegroups", "classic_load_balancers",
                                             "load_balancers", "target_groups", "volumes", "security_groups",
                                             "network_interfaces", "dns_records", "schedules", "ecr_templates",
                                             "ecr_repositories"}
    assert not ecr.describe_repository_creation_templates(prefixes=[prefix])["repositoryCreationTemplates"]
    assert not [r for r in ecr.describe_repositories()["repositories"] if r["repositoryName"].startswith(prefix)]
    assert cluster not in stack.client("eks").list_clusters()["clusters"]
    assert not stack.client("scheduler").list_schedules(GroupName=stack.seeded.schedule_group,
                                                         NamePrefix=f"{hub_id}-")["Schedules"]
    story = [t for t in stack.slack.texts()[before:]]
    def first(start):
        return next(i for i, t in enumerate(story) if t.startswith(start))

    started, ready = first(f"Provisioning the BinderHub of course {course} started"), first(
        f"The BinderHub of course {course} is ready")
    down, up = first(f"The BinderHub of course {course} is scaled down to 0 nodes"), first(
        f"The BinderHub of course {course} is scaling up")
    retiring, retired = first(f"Retiring the BinderHub of course {course}"), first(
        f"The BinderHub of course {course} is retired")
    assert started < ready < down < up < retiring < retired, story
    assert ready < first(f"Reminder: the BinderHub of course {course}") < retiring, story  # when it falls: the clock
    assert "Audit: nothing left behind" in story[-1], story[-1]
    # the morning scale-up's launch check, once the nodes were back
    assert up < first(f"Course {course}: a student can launch") < retiring, story
    # the launch check's build and the push above
    assert "Images: 2 ECR repositories deleted, template deleted." in story[-1], story[-1]

    # No login ECR gave out is in a run's history, a Slack message, the hub's record or a log line.
    account = host.split(".")[0]
    passwords = list(moto_patches.ecr_registry(account, stack.config.region).tokens)
    assert len(passwords) >= len(renewals) + 1
    sfn = stack.client("stepfunctions")
    runs = [e["executionArn"] for machine in ("provision", "teardown") for e in sfn.list_executions(
        stateMachineArn=stack.seeded.state_machines[machine])["executions"]
        if json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])["hub_id"] == hub_id]
    seen_text = json.dumps([sfn.get_execution_history(executionArn=run, maxResults=1000)["events"] for run in runs],
                           default=str)
    seen_text += json.dumps(stack.slack.messages()) + json.dumps(record, default=str) + "".join(capfd.readouterr())
    assert len(runs) == 2 and not [p for p in passwords if p in seen_text]


def _occurrences(stack, hub_id):
    """Every firing of the hub's schedules up to the teardown, in time order."""
    scheduler, group = stack.client("scheduler"), stack.seeded.schedule_group
    schedules = {s["Name"].removeprefix(f"{hub_id}-"): scheduler.get_schedule(GroupName=group, Name=s["Name"])
                 for s in scheduler.list_schedules(GroupName=group, NamePrefix=f"{hub_id}-")["Schedules"]}
    start = stack.clock.now()

    def following(schedule, after):
        return next_time(schedule["ScheduleExpression"], after, schedule["ScheduleExpressionTimezone"], start)

    end = following(schedules["teardown"], start)
    found = []
    for name, schedule in schedules.items():
        at = start
        while (at := following(schedule, at)) is not None and at <= end:
            found.append((at, name))
    return sorted(found)


def _advance_to(stack, when: datetime):
    delta = when.timestamp() - stack.clock.time() + 1
    if delta > 0:
        stack.clock.advance(delta)


def _nodegroup(stack, cluster):
    return stack.client("eks").describe_nodegroup(clusterName=cluster, nodegroupName="workers")["nodegroup"]


def _ready_nodes(stack, cluster):
    with _session(stack, cluster) as runner:
        nodes = json.loads(runner.kubectl("get", "nodes", "-o", "json"))["items"]
    return [n for n in nodes if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])]


def _workloads(stack, cluster):
    with _session(stack, cluster) as runner:
        return deployments_ready(runner, "binderhub")


def _binder_template_annotations(stack, cluster):
    with _session(stack, cluster) as runner:
        deployment = json.loads(runner.kubectl("get", "deployment", image_registry.BINDERHUB_DEPLOYMENT, "-n",
                                               "binderhub", "-o", "json"))
    return deployment["spec"]["template"]["metadata"].get("annotations") or {}


def _session(stack, cluster):
    settings = stack.seeded.environment
    return cluster_session(stack.client("eks"), stack.client("sts"), cluster, bin_dir=settings["TOOLS_DIR"],
                           timeout=60)


def _answers(urls, staging_roots):
    try:
        https_check.verify_hub(urls["binder"].removeprefix("https://"), urls["hub"].removeprefix("https://"),
                               cafile=staging_roots)  # an acme_staging hub
    except Exception:  # noqa: BLE001 - not yet
        return False
    return True


def _teardown_of(stack, hub_id):
    sfn = stack.client("stepfunctions")
    for execution in sfn.list_executions(stateMachineArn=stack.seeded.state_machines["teardown"])["executions"]:
        if json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])["hub_id"] == hub_id:
            return execution["executionArn"]
    return None
