"""Shared fixtures: fake credentials for unit tests, one local stack for the end-to-end tests."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

import pytest

FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch):
    """No test may reach a real account: credentials are fake unless the local stack set its own."""
    for name, value in FAKE_AWS.items():
        if name not in os.environ or not os.environ.get("AWS_ENDPOINT_URL"):
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(scope="session")
def stack():
    """One local stack for the session, its clock 600 times faster than real time."""
    from coursehub_local.stack import LocalStack, StackConfig

    local = LocalStack(StackConfig(time_scale=600))
    local.start()
    yield local
    local.stop()


def eventually(check: Callable[[], object], timeout: float = 20.0, interval: float = 0.05):
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` real seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {check.__doc__ or check}")
        time.sleep(interval)


LOCAL = Path(__file__).parent / "local"


# The local-stack files that take longest (pytest --durations, summed per file), longest first. make test hands
# files to its processes in collection order (xdist --dist loadfile --no-loadscope-reorder): starting with these
# keeps one long file from running alone at the end. By default xdist starts with the files of most tests instead.
LONGEST_FIRST = ("local/test_hub_lifecycle.py", "local/cluster/test_binderhub_launch.py",
                 "local/test_launch_check_end_to_end.py", "local/test_provision_workflow.py",
                 "local/test_teardown_workflow.py",
                 "local/cluster/test_chart_releases.py", "local/test_hub_api_over_http.py", "coursehub/test_demo.py",
                 "local/test_releases.py", "local/test_acme_staging.py", "local/test_workflow_run_ends.py",
                 "local/test_storage_workflow.py", "local/test_hub_charts.py")


def _order(item) -> tuple[bool, int]:
    name = Path(item.path).relative_to(Path(__file__).parent).as_posix()
    rank = LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)
    return item.get_closest_marker("after_end_to_end") is not None, rank


def pytest_collection_modifyitems(items):
    """Mark what needs a local stack (``-m "not local_stack"`` is the fast tier); the longest files first (above);
    judges of the runs last."""
    for item in items:
        if LOCAL in Path(item.path).parents or item.get_closest_marker("own_stack"):
            item.add_marker(pytest.mark.local_stack)
    items.sort(key=_order)


def pytest_sessionfinish(session):
    """With ``COURSEHUB_CALLS_DIR`` set, leave the AWS calls this process recorded there for a later judge."""
    directory = os.environ.get("COURSEHUB_CALLS_DIR")
    if directory:
        from coursehub_local import aws_calls

        name = os.environ.get("PYTEST_XDIST_WORKER", "main")
        aws_calls.save(Path(directory) / f"{name}-{os.getpid()}.json")
