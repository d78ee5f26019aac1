"""The runner: argv without a shell, a minimal environment, transient errors retried, secrets never in errors."""
import base64
import json
import os
import time

import pytest

from chalicelib.errors import KubeCommandFailed, KubeNotFound, KubeTransientError, SettingsError
from chalicelib.runner import TRANSIENT_MESSAGES, Runner, scrub

TOKEN = "k8s-aws-v1.aHR0cHM6Ly9zdHMuYW1hem9uYXdzLmNvbS8_QWN0aW9uPUdldENhbGxlcklkZW50aXR5"


def fake_tool(bin_dir, name, body, nested=False):
    """A stand-in for helm or kubectl: a shell script at <bin_dir>/<name> or, as in /opt, <bin_dir>/<name>/<name>."""
    folder = bin_dir / name if nested else bin_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def kubeconfig(tmp_path):
    path = tmp_path / "kubeconfig.json"
    path.write_text(json.dumps({"users": [{"name": "c", "user": {"token": TOKEN}}]}))
    path.chmod(0o600)
    return path


@pytest.fixture
def make_runner(tmp_path, kubeconfig):
    runners = []

    def make(helm="exit 0", kubectl="exit 0", nested=False, **kwargs):
        bin_dir = tmp_path / "bin"
        fake_tool(bin_dir, "helm", helm, nested)
        fake_tool(bin_dir, "kubectl", kubectl, nested)
        kwargs.setdefault("retry_delays", (0, 0))
        runner = Runner(str(bin_dir), str(kubeconfig), kwargs.pop("timeout", 10), **kwargs)
        runners.append(runner)
        return runner
    yield make
    for runner in runners:
        runner.close()


def counting(tmp_path, then):
    """Script body that records each call in a file, then runs ``then`` (with $n the call number)."""
    counter = tmp_path / "calls"
    return f'echo x >> "{counter}"; n=$(wc -l < "{counter}")\n{then}', counter


def calls(counter):
    return len(counter.read_text().splitlines()) if counter.exists() else 0


@pytest.mark.parametrize("nested", [True, False], ids=["opt-layer-layout", "flat-folder"])
def test_finds_the_tools_in_the_layer_layout_and_in_a_flat_folder(make_runner, nested):
    runner = make_runner(helm="echo helm here", kubectl="echo kubectl here", nested=nested)
    assert runner.helm("version") == "helm here\n"
    assert runner.kubectl("version") == "kubectl here\n"


def test_a_missing_tool_is_a_settings_error_naming_the_folder(tmp_path, kubeconfig):
    with pytest.raises(SettingsError, match="no executable helm in"):
        Runner(str(tmp_path / "empty"), str(kubeconfig), 5).helm("version")


def test_arguments_reach_the_tool_verbatim_without_a_shell(make_runner, tmp_path):
    runner = make_runner(helm='for a in "$@"; do printf "%s\\n" "$a"; done')
    marker = tmp_path / "pwned"
    tricky = [f"; touch {marker}", f"$(touch {marker})", "`id`", "a b", "*"]
    assert runner.helm("upgrade", *tricky).splitlines() == ["upgrade", *tricky]
    assert not marker.exists()


def test_stdin_is_passed_to_the_tool(make_runner):
    runner = make_runner(kubectl="cat")
    assert runner.kubectl("apply", "-f", "-", stdin='{"kind": "ConfigMap"}') == '{"kind": "ConfigMap"}'


def test_the_environment_holds_only_what_the_tools_need(make_runner, kubeconfig, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-pass")
    monkeypatch.setenv("KUBECONFIG", "/home/someone/.kube/config")
    environ = {"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "127.0.0.1", "SSL_CERT_FILE": "/ca.pem",
               "AWS_SECRET_ACCESS_KEY": "do-not-pass", "HELM_DRIVER": "memory"}
    runner = make_runner(helm="env", environ=environ)
    env = dict(line.split("=", 1) for line in runner.helm("env").splitlines() if "=" in line)
    env.pop("PWD", None), env.pop("SHLVL", None), env.pop("_", None)  # set by the shell itself
    assert env["KUBECONFIG"] == str(kubeconfig)
    assert env["HOME"] == runner.home and (os.stat(runner.home).st_mode & 0o777) == 0o700
    for name in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME", "KUBECACHEDIR"):
        assert env[name].startswith(runner.home + os.sep)
    assert env["PATH"].split(os.pathsep)[0] == os.path.dirname(runner.binary("helm"))
    assert (env["HTTPS_PROXY"], env["NO_PROXY"], env["SSL_CERT_FILE"]) == ("http://proxy:3128", "127.0.0.1", "/ca.pem")
    assert set(env) == {"PATH", "HOME", "KUBECONFIG", "KUBECACHEDIR", "HELM_CACHE_HOME", "HELM_CONFIG_HOME",
                        "HELM_DATA_HOME", "HTTPS_PROXY", "NO_PROXY", "SSL_CERT_FILE"}


def test_close_removes_the_private_home_it_made(make_runner):
    runner = make_runner()
    home = runner.home
    runner.close()
    assert not os.path.exists(home)


@pytest.mark.parametrize("message", TRANSIENT_MESSAGES)
def test_a_transient_failure_is_retried_twice_then_raised_by_name(make_runner, tmp_path, message):
    body, counter = counting(tmp_path, f'echo "Error: Get \\"https://eks/api\\": {message}" >&2; exit 1')
    runner = make_runner(kubectl=body)
    with pytest.raises(KubeTransientError) as raised:
        runner.kubectl("get", "nodes")
    assert calls(counter) == 3
    assert message in str(raised.value) and raised.value.returncode == 1


def test_a_transient_failure_that_clears_up_returns_the_output(make_runner, tmp_path):
    body, counter = counting(tmp_path, 'if [ "$n" -lt 3 ]; then echo "write: broken pipe" >&2; exit 1; fi; echo ok')
    assert make_runner(helm=body).helm("list") == "ok\n"
    assert calls(counter) == 3


def test_no_retry_when_the_caller_says_the_command_must_not_run_twice(make_runner, tmp_path):
    body, counter = counting(tmp_path, 'echo "dial tcp 10.0.0.1:443: i/o timeout" >&2; exit 1')
    with pytest.raises(KubeTransientError):
        make_runner(helm=body).helm("upgrade", "hub", "chart", retry=False)
    assert calls(counter) == 1


def test_retries_stop_at_the_time_budget(make_runner, tmp_path):
    body, counter = counting(tmp_path, 'echo "connection refused" >&2; exit 1')
    runner = make_runner(kubectl=body, retry_delays=(5, 5), timeout=3)
    with pytest.raises(KubeTransientError):
        runner.kubectl("get", "nodes")
    assert calls(counter) == 1


def test_a_permanent_failure_is_raised_at_once_with_the_tools_message(make_runner, tmp_path):
    body, counter = counting(tmp_path, 'echo "Error: UPGRADE FAILED: values don\'t meet the specifications" >&2; exit 1')
    with pytest.raises(KubeCommandFailed) as raised:
        make_runner(helm=body).helm("upgrade", "hub", "chart")
    assert calls(counter) == 1
    assert type(raised.value) is KubeCommandFailed
    assert "values don't meet the specifications" in str(raised.value)
    assert raised.value.command == "helm upgrade hub chart"


@pytest.mark.parametrize("tool, stderr", [
    ("helm", "Error: release: not found"),
    ("helm", "Error: uninstall: Release not loaded: hub: release: not found"),
    ("kubectl", 'Error from server (NotFound): namespaces "hub" not found'),
])
def test_not_found_has_its_own_name(make_runner, tool, stderr):
    runner = make_runner(**{tool: f"echo '{stderr}' >&2; exit 1"})
    with pytest.raises(KubeNotFound):
        getattr(runner, tool)("status", "hub")


@pytest.mark.parametrize("message", [
    'Error: path "/charts/binderhub" not found',
    'Error: chart "binderhub" version "9.9.9" not found in http://127.0.0.1:8879 repository',
], ids=["path", "version"])
def test_a_chart_not_found_is_a_permanent_failure_not_a_missing_release(make_runner, message):
    runner = make_runner(helm=f"echo '{message}' >&2; exit 1")
    with pytest.raises(KubeCommandFailed) as raised:
        runner.helm("upgrade", "--install", "hub", "binderhub")
    assert type(raised.value) is KubeCommandFailed
    assert message in str(raised.value)


def test_a_hung_tool_is_killed_at_the_timeout_as_a_transient_error(make_runner):
    runner = make_runner(kubectl="exec sleep 30", timeout=0.5)
    started = time.monotonic()
    with pytest.raises(KubeTransientError, match="no answer within 0.5 s"):
        runner.kubectl("get", "nodes")
    assert time.monotonic() - started < 5


def test_the_kubeconfig_token_never_appears_in_an_error(make_runner):
    runner = make_runner(kubectl=f'echo "I1127 round_trippers.go: Authorization: Bearer {TOKEN}" >&2\n'
                                 f'echo "token {TOKEN} was refused" >&2\n'
                                 f'echo "cut off: {TOKEN[:30]}" >&2; exit 1')
    with pytest.raises(KubeCommandFailed) as raised:
        runner.kubectl("get", "nodes", "-v=9")
    text = str(raised.value) + raised.value.stderr
    assert TOKEN[len("k8s-aws-v1."):len("k8s-aws-v1.") + 12] not in text
    assert "was refused" in text


def test_values_named_for_redaction_and_their_base64_never_appear_in_an_error(make_runner):
    password = "dockerhub-password-value"
    encoded = base64.b64encode(password.encode()).decode()
    runner = make_runner(helm=f'echo "bad value {password} and data {encoded}" >&2; echo "$@" >&2; exit 1')
    with pytest.raises(KubeCommandFailed) as raised:
        runner.helm("upgrade", "hub", "chart", "--set-string", f"x={password}", redact=[password])
    text = str(raised.value) + raised.value.command
    assert password not in text and encoded not in text
    assert "bad value ***" in text


@pytest.mark.parametrize("leak, kept", [
    ('"password": "hunter22"', '"password": ***'),
    ("access_token=ghp_abcdefghijklmnopqrstuvwx", "access_token=***"),
    ("https://sts.amazonaws.com/?X-Amz-Signature=abcdef0123&X-Amz-Credential=AKIA/x", "X-Amz-Signature=***"),
    ("github_pat_ABCDEFGHIJKLMNOPQRSTUV_xyz", "***"),
])
def test_scrub_removes_anything_shaped_like_a_credential(leak, kept):
    cleaned = scrub(f"error: {leak} end")
    assert kept in cleaned
    assert "hunter22" not in cleaned and "abcdef0123" not in cleaned and "ABCDEFGHIJ" not in cleaned
