"""The REST API over real HTTP on the local stack: SigV4, create, watch, change, retire, retry, idempotency."""
import json
import threading
import uuid
from datetime import date, timedelta

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from chalicelib import hub_names, hub_records
from coursehub.api_client import ApiClient
from coursehub_local import moto_patches
from tests.conftest import eventually
from test_provision_workflow import ecr_request, hub_request


@pytest.fixture(scope="module")
def api(stack):
    return ApiClient.local(stack.details())


def executions(stack, hub_id, workflow="provision"):
    sfn = stack.client("stepfunctions")
    listed = sfn.list_executions(stateMachineArn=stack.seeded.state_machines[workflow])["executions"]
    return [e for e in listed if e["name"].startswith(hub_id + "-")]


def until(api, hub_id, done, timeout=120):
    """The hub once ``done(hub)`` holds (the API polled as a client would)."""
    last = {}

    def check():
        last.update(api.get(hub_id).body)
        return done(last) and dict(last)

    try:
        return eventually(check, timeout=timeout, interval=0.2)
    except AssertionError:
        raise AssertionError(f"hub {hub_id} did not settle: {json.dumps(last, indent=1)}") from None


def settled(hub):
    return hub["status"] in ("FAILED", "RETIRED") or (
        hub["status"] == "READY" and hub["progress"]["done"] == hub["progress"]["total"])


def signed_request(api, method, path, body, credentials=None, region=None, service="execute-api"):
    data = json.dumps(body).encode()
    request = AWSRequest(method=method, url=api.url + path, data=data, headers={"Content-Type": "application/json"})
    SigV4Auth(credentials or api.credentials, service, region or api.region).add_auth(request)
    return data, dict(request.headers.items())


def test_unsigned_or_wrongly_signed_requests_get_403_and_start_nothing(stack, api):
    course = f"s{uuid.uuid4().hex[:6]}"
    body = hub_request(stack, course)
    cases = {}
    cases["unsigned"] = api.call("POST", "/hubs", body=body, sign=False, check=False)
    wrong_key = Credentials(api.credentials.access_key, "not-the-secret")
    for name, kwargs in {"wrong secret": {"credentials": wrong_key},
                         "unknown access key": {"credentials": Credentials("AKIAUNKNOWN000000000", "x")},
                         "other region": {"region": "eu-west-1"},
                         "other service": {"service": "s3"}}.items():
        data, headers = signed_request(api, "POST", "/hubs", body, **kwargs)
        cases[name] = api.call("POST", "/hubs", raw=data, headers=headers, sign=False, check=False)
    data, headers = signed_request(api, "POST", "/hubs", body)
    tampered = json.dumps({**body, "nodes": {**body["nodes"], "max_size": 2}}).replace(" ", "  ").encode()
    cases["body changed after signing"] = api.call("POST", "/hubs", raw=tampered, headers=headers, sign=False,
                                                   check=False)
    headers["X-Amz-Date"] = "20200101T000000Z"
    cases["old date"] = api.call("POST", "/hubs", raw=data, headers=headers, sign=False, check=False)

    for name, answer in cases.items():
        assert answer.status == 403, name
        assert set(answer.body) == {"code", "message"}, name
    assert cases["unsigned"].body["code"] == "MISSING_AUTHENTICATION_TOKEN"
    assert cases["wrong secret"].body["code"] == "INVALID_SIGNATURE"
    assert cases["unknown access key"].body["code"] == "UNAUTHORIZED"
    assert executions(stack, f"hub-{course}") == []
    assert api.call("GET", f"/hubs/hub-{course}", check=False).status == 404  # nothing was recorded either


def test_concurrent_posts_with_one_idempotency_key_start_one_execution(stack, api):
    course = f"c{uuid.uuid4().hex[:6]}"
    hub_id, key, body = f"hub-{course}", str(uuid.uuid4()), hub_request(stack, course)
    stack.faults.inject("eks", "CreateCluster", times=50, code="AccessDeniedException", status=403)
    try:
        start, answers = threading.Barrier(4), []

        def post():
            start.wait()
            answers.append(api.call("POST", "/hubs", body=body, headers={"Idempotency-Key": key}, check=False))

        threads = [threading.Thread(target=post) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted({a.status for a in answers}) in ([202], [202, 409]), [a.body for a in answers]
        assert [a.body["code"] for a in answers if a.status == 409] == ["RequestInProgress"] * sum(
            a.status == 409 for a in answers)
        failed = until(api, hub_id, settled)
    finally:
        stack.faults.clear()
    assert len(executions(stack, hub_id)) == 1
    assert failed["status"] == "FAILED" and failed["error"]["step"] == "Create the cluster"

    replay = api.create(body, idempotency_key=key)  # the same key later: the first answer, the hub as it is now
    assert (replay.status, replay.body["hub_id"], replay.body["status"]) == (202, hub_id, "FAILED")
    other_body = api.call("POST", "/hubs", body={**body, "reminder_days": 3}, headers={"Idempotency-Key": key},
                          check=False)
    assert (other_body.status, other_body.body["code"]) == (422, "IdempotencyKeyReused")
    same_course = api.create(body)  # no key: the course's live hub
    assert (same_course.status, same_course.body["execution_arn"]) == (200, failed["execution_arn"])
    assert len(executions(stack, hub_id)) == 1

    retired = api.retire(hub_id)  # a FAILED hub can be retired; the teardown finds nothing and ends clean
    assert retired.status == 202 and retired.body["workflow"] == "teardown"
    retired = until(api, hub_id, settled)
    assert retired["status"] == "RETIRED" and retired["audit"]["clean"], retired


def test_a_hub_through_the_api_fails_is_retried_extended_resized_and_retired(stack, api):
    course = f"a{uuid.uuid4().hex[:6]}"
    hub_id, body = f"hub-{course}", ecr_request(stack, course)
    body["nodes"]["max_size"] = 3
    stack.faults.inject("eks", "CreateNodegroup", times=1, code="AccessDeniedException", status=403)
    created = api.create(body)
    assert created.status == 202 and created.headers["location"] == f"/hubs/{hub_id}"
    assert created.body["status"] == "PROVISIONING" and created.body["execution_arn"].endswith(
        executions(stack, hub_id)[0]["name"])
    busy = api.call("PATCH", f"/hubs/{hub_id}", body={"reminder_days": 3}, check=False)
    assert (busy.status, busy.body["code"]) == (409, "HubBusy")

    failed = until(api, hub_id, settled)
    assert failed["status"] == "FAILED" and failed["error"]["step"] == "Create the node group"
    assert "AccessDenied" in failed["error"]["cause"] + failed["error"]["error"]
    retried = api.retry(hub_id)
    assert retried.status == 202 and retried.body["status"] == "PROVISIONING"
    assert api.call("POST", f"/hubs/{hub_id}/retry", check=False).status == 409  # running, not FAILED

    ready = until(api, hub_id, settled)
    assert ready["status"] == "READY", ready["error"]
    assert len(executions(stack, hub_id)) == 2
    assert ready["urls"]["binder"] == f"https://binder.{course}.courses.example.edu"
    assert ready["progress"] == {"done": 16, "total": 16}
    assert [s["name"] for s in ready["steps"]][:2] == ["Create the cluster", "Check the cluster is active"]
    assert all(s["outcome"] == "SUCCEEDED" and s["duration_s"] >= 0 for s in ready["steps"])
    assert ready["steps"][0]["detail"] == "reused"  # the retry found the cluster the failed run made
    assert ready["console_url"].endswith(ready["execution_arn"])

    scheduler, group = stack.client("scheduler"), stack.seeded.schedule_group
    new_end = (date.fromisoformat(body["term_end"]) + timedelta(days=14)).isoformat()
    extended = api.update(hub_id, {"term_end": new_end, "scaling": {"down_at": "21:00", "up_at": "06:30"},
                                   "nodes": {"max_size": 2}})
    assert extended.status == 200
    assert extended.body["retire_at"].startswith(new_end)
    teardown = scheduler.get_schedule(Name=f"{hub_id}-teardown", GroupName=group)
    assert teardown["ScheduleExpression"] == f"at({new_end}T23:00:00)"
    assert scheduler.get_schedule(Name=f"{hub_id}-scale-down", GroupName=group)["ScheduleExpression"] == \
        "cron(0 21 ? * MON-FRI *)"
    assert set(extended.body["schedules"]) == {f"{hub_id}-{p}" for p in ("teardown", "reminder", "scale-down",
                                                                        "scale-up", "registry-login")}
    eks = stack.client("eks")
    assert eventually(lambda: eks.describe_nodegroup(clusterName=hub_names.cluster_name(stack.config.stage, course),
                                                     nodegroupName="workers")[
        "nodegroup"]["scalingConfig"] == {"minSize": 1, "desiredSize": 1, "maxSize": 2})  # after UPDATING
    refused = api.call("PATCH", f"/hubs/{hub_id}", body={"nodes": {"max_size": 99}}, check=False)
    assert (refused.status, refused.body["field"]) == (400, "nodes.max_size")
    assert api.get(hub_id).body["request"]["nodes"]["max_size"] == 2  # the refused change lost nothing
    always_on = api.update(hub_id, {"scaling": None}).body
    assert sorted(always_on["schedules"]) == [f"{hub_id}-registry-login", f"{hub_id}-reminder", f"{hub_id}-teardown"]
    assert [s["Name"] for s in scheduler.list_schedules(GroupName=group, NamePrefix=f"{hub_id}-scale")[
        "Schedules"]] == []

    listed = api.hubs(status="READY", limit=100).body
    assert hub_id in [h["hub_id"] for h in listed["hubs"]]

    first, second = api.retire(hub_id), api.retire(hub_id)
    assert (first.status, second.status) == (202, 202)
    assert first.body["execution_arn"] == second.body["execution_arn"]  # the second DELETE: the running teardown
    assert len(executions(stack, hub_id, "teardown")) == 1
    retired = until(api, hub_id, settled, timeout=180)
    assert retired["status"] == "RETIRED" and retired["audit"]["clean"], retired["audit"]
    assert retired["workflow"] == "teardown" and retired["progress"]["done"] == retired["progress"]["total"]
    assert api.retire(hub_id).status == 200  # retired already: nothing more to start
    assert len(executions(stack, hub_id, "teardown")) == 1
    assert scheduler.list_schedules(GroupName=group, NamePrefix=hub_id)["Schedules"] == []


def test_errors_have_one_shape_and_name_the_field(stack, api):
    course = f"e{uuid.uuid4().hex[:6]}"
    body = hub_request(stack, course)
    cases = {
        ("POST", "/hubs", json.dumps({**body, "nodes": {**body["nodes"], "instance_type": "p4d.24xlarge"}})):
            (400, "InvalidRequest", "nodes.instance_type"),
        ("POST", "/hubs", json.dumps({**body, "term_end": "2001-01-01"})): (400, "InvalidRequest", "term_end"),
        ("POST", "/hubs", json.dumps({**body, "colour": "blue"})): (400, "InvalidRequest", "colour"),
        # strict input: no conversion of another type, no unknown field at any level
        ("POST", "/hubs", json.dumps({**body, "term_end": body["term_end"] + "T00:00:00"})):
            (400, "InvalidRequest", "term_end"),
        ("POST", "/hubs", json.dumps({**body, "timezone": "Europe/Kyiv\n"})): (400, "InvalidRequest", "timezone"),
        ("POST", "/hubs", json.dumps({**body, "scaling": {"weekdays_only": "yes"}})):
            (400, "InvalidRequest", "scaling.weekdays_only"),
        ("POST", "/hubs", json.dumps({**body, "nodes": {**body["nodes"], "min_size": 1.0}})):
            (400, "InvalidRequest", "nodes.min_size"),
        ("POST", "/hubs", json.dumps({**body, "nodes": {**body["nodes"], "desired_size": "1"}})):
            (400, "InvalidRequest", "nodes.desired_size"),
        ("POST", "/hubs", json.dumps({**body, "acme_stagin": False})): (400, "InvalidRequest", "acme_stagin"),
        ("POST", "/hubs", json.dumps({**body, "culling": {"timout": 600}})): (400, "InvalidRequest", "culling.timout"),
        ("PATCH", f"/hubs/hub-{course}", json.dumps({"reminder_days": True})): (400, "InvalidRequest", "reminder_days"),
        ("PATCH", f"/hubs/hub-{course}", json.dumps({"reminder_days": "7"})): (400, "InvalidRequest", "reminder_days"),
        ("POST", "/hubs", "{not json"): (400, "InvalidBody", "body"),
        ("POST", "/hubs", "[]"): (400, "InvalidBody", "body"),
        ("GET", "/hubs/Not_A_Hub", None): (400, "InvalidHubId", "hub_id"),
        ("GET", f"/hubs/hub-{course}", None): (404, "HubNotFound", "hub_id"),
        ("DELETE", f"/hubs/hub-{course}", None): (404, "HubNotFound", "hub_id"),
        ("POST", f"/hubs/hub-{course}/retry", None): (404, "HubNotFound", "hub_id"),
        ("PATCH", f"/hubs/hub-{course}", json.dumps({"course_id": "x"})): (400, "InvalidRequest", "course_id"),
        ("PATCH", f"/hubs/hub-{course}", "{}"): (400, "InvalidRequest", "body"),
        ("GET", "/hubs?status=HAPPY", None): (400, "InvalidQuery", "status"),
        ("GET", "/hubs?limit=0", None): (400, "InvalidQuery", "limit"),
        ("GET", "/hubs?next=%%%", None): (400, "InvalidQuery", "next"),
    }
    for (method, path, raw), (status, code, field) in cases.items():
        answer = api.call(method, path.split("?")[0], raw=raw.encode() if raw is not None else None,
                          query=dict([path.split("?")[1].split("=")]) if "?" in path else None, check=False)
        assert (answer.status, answer.body.get("code"), answer.body.get("field")) == (status, code, field), (
            method, path, answer.body)
        assert isinstance(answer.body["message"], str) and answer.body["message"]
    wrong_type = api.call("POST", "/hubs", raw=json.dumps(body).encode(), headers={"Content-Type": "text/plain"},
                          check=False)
    assert (wrong_type.status, wrong_type.body["code"]) == (415, "UnsupportedMediaType")
    bad_key = api.call("POST", "/hubs", body=body, headers={"Idempotency-Key": "has space"}, check=False)
    assert (bad_key.status, bad_key.body["field"]) == (400, "Idempotency-Key")
    assert executions(stack, f"hub-{course}") == []


def test_pages_of_hubs_follow_the_next_token(stack, api):
    seen, token = [], None
    while True:
        page = api.hubs(limit=1, next_token=token).body
        assert len(page["hubs"]) <= 1
        seen += [h["hub_id"] for h in page["hubs"]]
        token = page["next"]
        if not token:
            break
    everything = [h["hub_id"] for h in api.hubs(limit=100).body["hubs"]]
    assert sorted(seen) == sorted(everything) and len(set(seen)) == len(seen)


def test_retiring_a_hub_while_it_is_provisioned_stops_that_run_and_leaves_nothing(stack, api):
    course = f"r{uuid.uuid4().hex[:6]}"
    hub_id = f"hub-{course}"
    created = api.create(hub_request(stack, course))
    provisioning = created.body["execution_arn"]
    # Under way: its cluster is up and its node group is being created.
    eventually(lambda: api.get(hub_id).body["current_step"] == "Check the node group is active", timeout=60)
    retiring = api.retire(hub_id)
    assert retiring.status == 202 and retiring.body["workflow"] == "teardown"
    sfn = stack.client("stepfunctions")
    assert eventually(lambda: sfn.describe_execution(executionArn=provisioning)["status"] != "RUNNING") and \
        sfn.describe_execution(executionArn=provisioning)["status"] == "ABORTED"
    retired = until(api, hub_id, settled, timeout=180)
    assert retired["status"] == "RETIRED" and retired["audit"]["clean"], retired
    assert retired["execution_arn"] == retiring.body["execution_arn"]
    clusters = stack.client("eks").list_clusters()["clusters"]
    assert f"coursehub-{stack.config.stage}-{course}" not in clusters


def test_a_workflow_aws_refuses_to_start_leaves_the_hub_failed_and_the_key_free(stack, api):
    course = f"n{uuid.uuid4().hex[:6]}"
    hub_id, key, body = f"hub-{course}", str(uuid.uuid4()), hub_request(stack, course)
    stack.faults.inject("stepfunctions", "StartExecution", times=1, code="ServiceQuotaExceededException",
                        status=400)
    refused = api.call("POST", "/hubs", body=body, headers={"Idempotency-Key": key}, check=False)
    assert (refused.status, refused.body["code"]) == (503, "WorkflowNotStarted")
    assert f"POST /hubs/{hub_id}/retry" in refused.body["message"]
    failed = api.get(hub_id).body
    assert failed["status"] == "FAILED" and failed["error"]["step"] == "Start provisioning"
    assert executions(stack, hub_id) == []
    again = api.call("POST", "/hubs", body=body, headers={"Idempotency-Key": key}, check=False)
    assert again.status == 200 and again.body["status"] == "FAILED"  # the key was not kept for the 503
    retired = api.retire(hub_id)
    assert retired.status == 202
    assert until(api, hub_id, settled)["status"] == "RETIRED"


def test_no_secret_value_reaches_an_api_answer(stack, api):
    sm = stack.client("secretsmanager")
    secrets = [sm.get_secret_value(SecretId=arn)["SecretString"] for arn in stack.seeded.secrets.values()]
    values = [s for s in secrets if s] + ["local-dockerhub-password"]
    account = stack.seeded.roles["lambda"].split(":")[4]
    logins = list(moto_patches.ecr_registry(account, stack.config.region).tokens)  # every ECR login given out
    assert logins, "the ECR hub of this file's first test got logins for its builds"
    values += logins
    answers = [api.hubs(limit=100).body]
    answers += [api.get(hub["hub_id"]).body for hub in answers[0]["hubs"]]
    assert len(answers) > 1, "the other tests of this file left hubs to read"
    text = json.dumps(answers)
    assert not [value for value in values if value in text]


def test_a_live_hubs_names_are_refused_to_another_hub_until_it_is_retired(stack, api):
    course_a, course_b = f"d{uuid.uuid4().hex[:6]}", f"t{uuid.uuid4().hex[:6]}"
    hub_a, hub_b, domain = f"hub-{course_a}", f"hub-{course_b}", f"{course_a}.courses.example.edu"
    assert api.create(hub_request(stack, course_a, domain)).status == 202
    assert until(api, hub_a, settled)["status"] == "READY"
    route53, dynamodb = stack.client("route53"), stack.client("dynamodb")
    table = stack.seeded.environment["HUB_TABLE_NAME"]

    def records():
        sets = route53.list_resource_record_sets(HostedZoneId=stack.seeded.hosted_zone_id)["ResourceRecordSets"]
        return sorted(json.dumps(s, sort_keys=True) for s in sets if s["Name"].rstrip(".").endswith(domain))

    def items():
        """The two hubs' items and every name claim (other tests' hubs change their own records meanwhile: an ECR
        hub's login renewals, say)."""
        return sorted(json.dumps(i, sort_keys=True) for i in dynamodb.scan(TableName=table)["Items"]
                      if i["hub_id"]["S"] in (hub_a, hub_b) or i["hub_id"]["S"].startswith(hub_records.CLAIM))

    dns, recorded = records(), items()
    assert len(dns) == 2  # binder.<domain> and hub.binder.<domain>, to A's load balancer
    for taken, field in ((domain, "domain"), (f"binder.{domain}", "domain"), (domain.upper() + ".", "domain")):
        refused = api.call("POST", "/hubs", body=hub_request(stack, course_b, taken), check=False)
        assert (refused.status, refused.body["code"], refused.body["field"]) == (409, "NameTaken", field), taken
        assert (refused.body["hub_id"], refused.body["hub_status"]) == (hub_a, "READY")
        assert f"belongs to hub {hub_a}" in refused.body["message"]
    assert executions(stack, hub_b) == []  # nothing started
    assert api.call("GET", f"/hubs/{hub_b}", check=False).status == 404  # nothing recorded
    assert items() == recorded and records() == dns  # A's record, claims and DNS untouched
    assert api.get(hub_a).body["status"] == "READY"
    renamed = api.call("PATCH", f"/hubs/{hub_a}", body={"domain": f"{course_b}.courses.example.edu"}, check=False)
    assert (renamed.status, renamed.body["field"]) == (400, "domain")  # a hub's names never change

    assert api.retire(hub_a).status == 202
    assert until(api, hub_a, settled, timeout=180)["status"] == "RETIRED"
    assert records() == []
    created = api.create(hub_request(stack, course_b, domain))  # A's names are free once it is retired
    assert created.status == 202 and len(executions(stack, hub_b)) == 1
    again = api.call("POST", "/hubs", body=hub_request(stack, course_a, domain), check=False)
    assert (again.status, again.body["hub_id"]) == (409, hub_b)  # and now hub B's
    assert api.retire(hub_b).status == 202
    retired_b = until(api, hub_b, settled, timeout=180)
    assert retired_b["status"] == "RETIRED", (retired_b["error"], [(s["name"], s["outcome"]) for s in retired_b["steps"]])


def test_every_size_of_request_the_gateway_takes_or_refuses_gets_an_answer_in_the_error_shape(stack, api):
    import http.client
    from urllib.parse import urlsplit

    from coursehub_local.api_gateway import MAX_URL_CHARACTERS

    def raw(method, target, headers=None):
        address = urlsplit(api.url)
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        try:
            connection.request(method, target, headers=headers or {})
            answer = connection.getresponse()
            return answer.status, answer.getheader("Content-Type"), json.loads(answer.read())
        finally:
            connection.close()

    too_long = {"over the quota": "/hubs/" + "a" * MAX_URL_CHARACTERS,
                "over http.server's request line": "/hubs/" + "a" * 100_000}
    for name, target in too_long.items():
        status, content_type, body = raw("GET", target)
        assert (status, content_type, body["code"]) == (414, "application/json", "REQUEST_URI_TOO_LONG"), name
        assert set(body) == {"code", "message"}
    status, content_type, body = raw("GET", "/hubs", {"X-Padding": "x" * 70_000})
    assert (status, content_type, set(body)) == (431, "application/json", {"code", "message"})

    room = MAX_URL_CHARACTERS - len(api.url) - 100  # what fits in the quota: the gateway passes it on
    passed = {("GET", "/hubs/" + "a" * room): (400, "InvalidHubId"),
              ("DELETE", "/hubs/hub-" + "a" * room): (400, "InvalidHubId"),
              ("GET", "/" + "x" * room): (403, "MISSING_AUTHENTICATION_TOKEN")}
    for (method, path), (status, code) in passed.items():
        answer = api.call(method, path, check=False)
        assert (answer.status, answer.body["code"]) == (status, code), path[:20]
    page = api.call("GET", "/hubs", query={"next": "a" * room}, check=False)
    assert (page.status, page.body["code"], page.body["field"]) == (400, "InvalidQuery", "next")
