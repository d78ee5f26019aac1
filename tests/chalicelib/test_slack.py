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
