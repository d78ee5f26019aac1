"""``coursehub local up``: a stack any boto3 program can use, described in .coursehub/local.json."""
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError

from coursehub_local.stack import ROOT
from tests.conftest import eventually

pytestmark = pytest.mark.local_stack  # it starts a stack in a process of its own


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def local_up(cwd, aws_port, slack_port):
    return subprocess.Popen(
        [sys.executable, "-m", "coursehub.cli", "local", "up", "--time-scale", "60",
         "--aws-port", str(aws_port), "--slack-port", str(slack_port)],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_local_up_serves_any_boto3_program_and_refuses_to_start_twice(tmp_path):
    aws_port, slack_port = free_port(), free_port()
    state_file = tmp_path / ".coursehub" / "local.json"
    first = local_up(tmp_path, aws_port, slack_port)
    try:
        eventually(lambda: state_file.exists() or first.poll() is not None, timeout=60)
        assert first.poll() is None, first.communicate()
        details = json.loads(state_file.read_text())
        for key in ("aws_endpoint_url", "region", "aws_access_key_id", "aws_secret_access_key",
                    "slack_url", "api_url", "time_scale", "faults_url"):
            assert key in details
        assert details["time_scale"] == 60
        session = boto3.session.Session(aws_access_key_id=details["aws_access_key_id"],
                                        aws_secret_access_key=details["aws_secret_access_key"],
                                        region_name=details["region"])
        secrets = session.client("secretsmanager", endpoint_url=details["aws_endpoint_url"])
        names = [s["Name"] for s in secrets.list_secrets()["SecretList"]]
        assert "coursehub/dev/slack-webhook" in names
        with urllib.request.urlopen(details["slack_url"]) as response:
            assert json.loads(response.read()) == []

        # Any program rehearses a failure through faults_url: the next ListSecrets is denied, then all is well.
        fault = urllib.request.Request(details["faults_url"], method="POST", data=json.dumps(
            {"service": "secretsmanager", "operation": "ListSecrets", "kind": "denied"}).encode())
        with urllib.request.urlopen(fault) as response:
            assert response.status == 201
        with pytest.raises(ClientError) as denied:
            secrets.list_secrets()
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
        assert "coursehub/dev/slack-webhook" in [s["Name"] for s in secrets.list_secrets()["SecretList"]]
        with urllib.request.urlopen(details["faults_url"]) as response:
            assert [f["answered"] for f in json.loads(response.read())["faults"]] == [1]

        second = local_up(tmp_path, aws_port, slack_port)
        _, err = second.communicate(timeout=60)
        assert second.returncode == 2
        assert f"cannot listen on 127.0.0.1:{aws_port}" in err and "already running" in err
        assert first.poll() is None  # the first one is unharmed
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=30)
    assert first.returncode == 0
    assert not state_file.exists()
