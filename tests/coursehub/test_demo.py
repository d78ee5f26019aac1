"""The README's main command provisions the sample hub through the API on a fresh local stack, retires it and says
it worked; a rehearsed failure names the step that failed."""
import os
import re
import subprocess
import sys

import pytest

from coursehub_local.stack import ROOT

pytestmark = pytest.mark.local_stack  # it starts a stack in a process of its own


def demo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "coursehub.cli", "demo", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=400, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_the_demo_provisions_the_sample_hub_through_the_api_retires_it_and_exits_0():
    result = demo()
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    assert "POST /hubs -> 202: provisioning hub-cs101 (courses.example.edu)" in out
    assert re.search(r"\[\s*\d+/\d+\] done     Create the node group \(\d+ s", out)
    assert "hub-cs101 is READY: https://binder.courses.example.edu (BinderHub)" in out
    assert "HTTPS check: https://binder.courses.example.edu/health" in out
    assert re.search(r"hub database: claim hub-db-dir is on EBS volume vol-\w+ \(gp3, 1 GiB, us-east-1\w, in-use\), "
                     r"tagged for cluster coursehub-dev-cs101", out)
    # READY once the launch check passed: its build pushed the test repository's image to the hub's ECR
    assert re.search(r"done     Launch a test repository \(\d+ s; first output after [\d.]+ s\)", out)
    assert "$ coursehub status hub-cs101\nhub-cs101  READY" in out
    assert re.search(r"^  launch     PASSED: first output after [\d.]+ s, "
                     r"gh/binderhub-ci-repos/cached-minimal-dockerfile/HEAD \(provisioning, ", out, re.M)
    assert "Images: 1 ECR repository deleted, template deleted." in out
    assert "Slack transcript:\n  > Provisioning the BinderHub of course cs101 started" in out
    assert "DELETE /hubs/hub-cs101 -> 202: retiring it" in out
    assert "hub-cs101 is RETIRED" in out
    assert "audit of what is left in AWS: nothing left behind" in out
    assert re.search(r"^  eks_clusters +none$", out, re.M)
    assert re.search(r"hub-cs101: READY after \d\d:\d\d \((\d+) of \1 steps done\), HTTPS verified, "
                     r"then RETIRED after \d\d:\d\d; audit clean", out)
    assert out.rstrip().endswith("demo: OK")


def test_the_demo_with_a_fault_fails_naming_the_step():
    result = demo("--fault", "eks:CreateNodegroup")
    out = result.stdout
    assert result.returncode == 1, out[-3000:] + result.stderr[-3000:]
    assert "rehearsing a failure: every eks:CreateNodegroup call answers AccessDeniedException" in out
    assert re.search(r"^failed at step 'Create the node group': AccessDeniedException: .*eks:CreateNodegroup", out,
                     re.M)
    assert "Slack transcript:" in out and "DELETE" not in out
    assert out.rstrip().endswith("demo: FAILED")
