"""Slack messages: validated events, webhook URL from Secrets Manager, errors that never show the URL."""
import io
import json
import urllib.error

import pytest

from chalicelib import slack
from chalicelib.errors import InvalidEvent, SecretUnavailable, SlackPostFailed

URL = "https://hooks.slack.example/services/T1/B2/very-secret-token"


class FakeSecrets:
    class exceptions:
        class ResourceNotFoundException(Exception):
            pass

    def __init__(self, values):
        self.values = values

    def get_secret_value(self, SecretId):
        if SecretId not in self.values:
            raise self.exceptions.ResourceNotFoundException(SecretId)
        return {"SecretString": self.values[SecretId]}


class Response:
    def __init__(self, status):
        self.status = status

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_the_webhook_url_may_be_plain_or_json():
    secrets = FakeSecrets({"plain": URL, "json": json.dumps({"url": URL}), "junk": "not a url"})
    assert slack.webhook_url(secrets, "plain") == URL
    assert slack.webhook_url(secrets, "json") == URL
    with pytest.raises(SecretUnavailable):
        slack.webhook_url(secrets, "junk")
    with pytest.raises(SecretUnavailable):
        slack.webhook_url(secrets, "missing")


@pytest.mark.parametrize("event", [None, [], {}, {"text": ""}, {"text": 3}, {"text": "x", "blocks": "no"}])
def test_bad_notify_events_are_rejected(event):
    with pytest.raises(InvalidEvent):
        slack.message_from_event(event)


def test_post_sends_json_and_checks_the_status():
    sent = []

    def opener(request, timeout):
        sent.append((request.full_url, json.loads(request.data), timeout))
        return Response(200)

    slack.post(URL, {"text": "hello"}, timeout=3, opener=opener)
    assert sent == [(URL, {"text": "hello"}, 3)]


@pytest.mark.parametrize("failure", [
    urllib.error.HTTPError(URL, 404, "no_service", {}, io.BytesIO()),
    urllib.error.URLError(ConnectionRefusedError(111, "refused")),
    TimeoutError("timed out"),
])
def test_failures_raise_a_named_error_without_the_url(failure):
    def opener(request, timeout):
        raise failure

    with pytest.raises(SlackPostFailed) as error:
        slack.post(URL, {"text": "hello"}, timeout=3, opener=opener)
    assert "very-secret-token" not in str(error.value)
    assert "hooks.slack" not in str(error.value)


@pytest.mark.parametrize("value", [3, "", "https://hooks.slack.example", "arn:aws:s3:::bucket"])
def test_a_bad_secret_arn_in_the_event_is_rejected(value):
    with pytest.raises(InvalidEvent, match="slack_secret_arn"):
        slack.secret_arn_from_event({"slack_secret_arn": value}, "arn:aws:secretsmanager:r:1:secret:x")


def test_the_default_secret_arn_is_used_when_the_event_names_none():
    default = "arn:aws:secretsmanager:r:1:secret:x"
    assert slack.secret_arn_from_event({}, default) == default


EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:coursehub-dev-provision:run-1"


def test_a_described_notify_event_gets_blocks_and_keeps_its_text():
    message = slack.message_from_event({"text": "ready", "hub_id": "hub-cs101", "step": "Record the hub",
                                        "outcome": "ready", "urls": {"binder": "https://binder.example.edu"},
                                        "execution": EXECUTION})
    assert message["text"] == "ready"
    assert [b["type"] for b in message["blocks"]] == ["section", "section", "actions", "context"]
    assert "`hub-cs101`" in message["blocks"][1]["fields"][0]["text"]


def test_blocks_given_by_the_event_win_and_a_plain_event_stays_plain():
    given = [{"type": "divider"}]
    assert slack.message_from_event({"text": "x", "hub_id": "hub-cs101", "blocks": given})["blocks"] == given
    assert slack.message_from_event({"text": "x"}) == {"text": "x"}


@pytest.mark.parametrize("field, value", [
    ("hub_id", "Hub CS101"), ("hub_id", 3), ("step", ""), ("step", "s" * 201), ("outcome", "done"),
    ("urls", ["https://x.example.edu"]), ("urls", {"binder": "http://binder.example.edu"}),
    ("urls", {"binder": "https://binder.example.edu/<script>"}), ("urls", {"": "https://x.example.edu"}),
    ("execution", "arn:aws:states:us-east-1:123456789012:stateMachine:coursehub-dev-provision"),
])
def test_a_bad_block_kit_field_is_rejected_by_name(field, value):
    with pytest.raises(InvalidEvent, match=f"'{field}'"):
        slack.message_from_event({"text": "x", field: value})
