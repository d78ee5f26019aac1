"""The notify_slack function on the local stack reads its webhook from Secrets Manager and posts."""
import json


def test_notify_slack_posts_through_the_secret_webhook_and_leaks_nothing(stack, caplog):
    webhook = stack.slack.webhook_url
    response = stack.client("lambda").invoke(FunctionName="coursehub-dev-notify_slack",
                                             Payload=json.dumps({"text": "hello from a test"}))
    body = response["Payload"].read().decode()
    assert "FunctionError" not in response, body
    assert json.loads(body) == {"posted": True}
    assert stack.slack.texts()[-1] == "hello from a test"
    assert webhook not in body
    assert webhook not in caplog.text


def test_notify_slack_with_a_missing_secret_fails_by_name(stack):
    arn = stack.seeded.secrets["slack"] + "-missing"
    response = stack.client("lambda").invoke(FunctionName="coursehub-dev-notify_slack",
                                             Payload=json.dumps({"text": "x", "slack_secret_arn": arn}))
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read())["errorType"] == "SecretUnavailable"


def test_notify_slack_rejects_an_event_without_text(stack):
    response = stack.client("lambda").invoke(FunctionName="coursehub-dev-notify_slack", Payload=b"{}")
    assert json.loads(response["Payload"].read())["errorType"] == "InvalidEvent"
