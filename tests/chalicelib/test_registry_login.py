"""The registry-login schedule's function: renews a READY ECR hub's build login, skips others, says failures."""
import json
from datetime import datetime, timezone

import pytest

from chalicelib import hub_records, registry_login
from chalicelib.errors import InvalidEvent, KubeError
from chalicelib.hub_request import HubRequest
from tests.chalicelib.conftest import HUB
from tests.chalicelib.fakes import FakeEcr
from tests.chalicelib.test_hub_request import ECR, GOOD

NOW = datetime(2026, 12, 1, 6, tzinfo=timezone.utc)


@pytest.fixture
def ecr():
    return FakeEcr()


@pytest.fixture
def ecr_hub(dynamodb, settings):
    """An ECR hub's record, READY unless a test says otherwise."""
    def make(status="READY", request=ECR):
        stored = HubRequest.stored({**request, "registry": "ecr" if request is ECR else "dockerhub"})
        hub_records.create(dynamodb, settings.hub_table_name, HUB, stored.model_dump(mode="json"),
                           cluster="coursehub-dev-cs101")
        hub_records.set_status(dynamodb, settings.hub_table_name, HUB, status)
    return make


def clients_of(dynamodb, ecr):
    return {"dynamodb": dynamodb, "ecr": ecr}.__getitem__


def test_a_ready_ecr_hub_gets_a_new_login_in_its_cluster_and_on_its_record(dynamodb, settings, ecr, ecr_hub, runner):
    ecr_hub()
    result = registry_login.renew(clients_of(dynamodb, ecr), settings, {"hub_id": HUB}, NOW)
    assert result["renewed"] is True and result["expires_at"] == "2026-12-01T12:00:00+00:00"
    assert [m["metadata"]["name"] for m in runner.applied] == ["binder-build-docker-config"]
    assert hub_records.get(dynamodb, settings.hub_table_name, HUB)["registry_login"] == {
        "renewed_at": "2026-12-01T06:00:00+00:00", "expires_at": "2026-12-01T12:00:00+00:00"}
    assert "ecr-login-1" not in json.dumps(result)


@pytest.mark.parametrize("status, request_data, reason", [
    ("PROVISIONING", ECR, "it is PROVISIONING, not READY"), ("RETIRING", ECR, "it is RETIRING, not READY"),
    ("READY", GOOD, "it uses DockerHub")])
def test_other_hubs_are_left_alone_saying_why(dynamodb, settings, ecr, ecr_hub, runner, status, request_data, reason):
    ecr_hub(status, request_data)
    result = registry_login.renew(clients_of(dynamodb, ecr), settings, {"hub_id": HUB}, NOW)
    assert (result["renewed"], result["reason"]) == (False, reason)
    assert ecr.logins == 0 and runner.applied == []


def test_a_failed_renewal_says_what_failed_and_when_the_current_login_expires(dynamodb, settings, ecr, ecr_hub,
                                                                               runner, monkeypatch):
    ecr_hub()
    hub_records.update(dynamodb, settings.hub_table_name, HUB, registry_login={
        "renewed_at": "2026-12-01T00:00:00+00:00", "expires_at": "2026-12-01T12:00:00+00:00"})

    def refuse(*args, **kwargs):
        raise KubeError("kubectl apply: the server is currently unable to handle the request")
    monkeypatch.setattr(runner, "kubectl", refuse)
    result = registry_login.renew(clients_of(dynamodb, ecr), settings, {"hub_id": HUB}, NOW)
    assert result["renewed"] is False and result["failed"].startswith("KubeError: kubectl apply")
    assert "until the current login expires (2026-12-01T12:00:00+00:00)" in result["text"]
    assert result["slack_secret_arn"] == ECR["slack_webhook_secret_arn"]
    assert "ecr-login-1" not in json.dumps(result)


@pytest.mark.parametrize("event", [None, {}, {"hub_id": "Hub One"}, {"hub_id": 7}])
def test_a_malformed_schedule_payload_is_refused_naming_the_field(dynamodb, settings, ecr, event):
    with pytest.raises(InvalidEvent, match="hub_id"):
        registry_login.renew(clients_of(dynamodb, ecr), settings, event, NOW)
