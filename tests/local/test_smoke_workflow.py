"""The smoke state machine runs on the local stack through real Chalice functions."""
import json

from tests.conftest import eventually


def run_smoke(stack, name, **overrides):
    sfn = stack.client("stepfunctions")
    payload = {"fail_times": 2, "polls_needed": 3, "items": [1, 2, 3], **overrides}
    execution = sfn.start_execution(stateMachineArn=stack.seeded.state_machines["smoke"], name=name,
                                    input=json.dumps(payload))
    arn = execution["executionArn"]
    status = eventually(lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING"
                        and sfn.describe_execution(executionArn=arn), timeout=60)
    history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return status, history


def entered(history):
    return [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]


def test_smoke_workflow_retries_polls_fans_out_catches_and_posts(stack):
    before = len(stack.slack.messages())
    status, history = run_smoke(stack, "smoke-history")

    assert status["status"] == "SUCCEEDED", status
    states = entered(history)
    assert states[:2] == ["Check probe until ready", "Poll progress"]
    # The Choice loop went round twice before the third poll said done.
    assert states.count("Poll progress") == 3
    assert states.count("Wait before polling again") == 2
    # The Retry on ProbeNotReady: two failed attempts, then one success, inside one state entry.
    failures = [e for e in history if e["type"] == "LambdaFunctionFailed"]
    probe_failures = [e for e in failures if "ProbeNotReady" in e["lambdaFunctionFailedEventDetails"]["error"]]
    assert len(probe_failures) == 2
    assert states.count("Check probe until ready") == 1
    # Parallel with a Map of three items and a caught named error.
    assert "Fan out" in states and states.count("Square") == 3
    caught = [e for e in history if e.get("stateExitedEventDetails", {}).get("name") == "Note the caught error"]
    assert json.loads(caught[0]["stateExitedEventDetails"]["output"]) == {"caught": "DeliberateFailure"}
    output = json.loads(status["output"])
    assert [item["square"] for item in output["fan_out"][0]] == [1, 4, 9]
    assert output["slack"] == {"posted": True}
    texts = stack.slack.texts()[before:]
    assert texts == ["Local stack smoke run smoke-history passed: probe ready after 3 attempts, ready after 3 polls."]


def test_retries_exhausted_fail_the_execution_with_the_error_name(stack):
    status, history = run_smoke(stack, "smoke-exhausted", fail_times=10)

    assert status["status"] == "FAILED"
    assert status["error"] == "ProbeNotReady"
    # 1 attempt + MaxAttempts 5 retries
    assert sum(e["type"] == "LambdaFunctionFailed" for e in history) == 6
    assert "Poll progress" not in entered(history)


def test_no_secret_value_reaches_the_history_or_slack(stack):
    status, history = run_smoke(stack, "smoke-secrets")
    assert status["status"] == "SUCCEEDED"
    secrets = stack.client("secretsmanager")
    values = []
    for arn in stack.seeded.secrets.values():
        value = secrets.get_secret_value(SecretId=arn)["SecretString"]
        values.append(value)
        if value.startswith("{"):
            values += [v for v in json.loads(value).values() if len(v) > 8]
    assert len(values) >= 4
    seen = json.dumps(history, default=str) + json.dumps(status, default=str) + json.dumps(stack.slack.messages())
    for value in values:
        assert value not in seen


def test_the_history_is_given_newest_first_when_asked_and_in_pages_of_max_results(stack):
    """GetExecutionHistory's reverseOrder and maxResults/nextToken, as its API reference has them."""
    _, history = run_smoke(stack, "smoke-pages")
    sfn = stack.client("stepfunctions")
    arn = [e for e in sfn.list_executions(stateMachineArn=stack.seeded.state_machines["smoke"])["executions"]
           if e["name"] == "smoke-pages"][0]["executionArn"]
    newest = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=2)
    assert [e["id"] for e in newest["events"]] == [history[-1]["id"], history[-2]["id"]] and newest["nextToken"]
    following = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=2,
                                          nextToken=newest["nextToken"])
    assert [e["id"] for e in following["events"]] == [history[-3]["id"], history[-4]["id"]]
    assert len(sfn.get_execution_history(executionArn=arn)["events"]) == min(100, len(history))  # the default page
