"""The README's main command provisions the sample hub on a fresh local stack, retires it and says it worked."""
import os
import subprocess
import sys

from coursehub_local.stack import ROOT


def test_the_demo_provisions_the_sample_hub_retires_it_and_exits_0():
    result = subprocess.run([sys.executable, "-m", "coursehub.cli", "demo"], cwd=ROOT, capture_output=True,
                            text=True, timeout=400, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "provisioning SUCCEEDED; hub READY; then hub RETIRED" in result.stdout
    assert "audit of what is left in AWS: nothing left behind" in result.stdout
    assert "HTTPS check: https://binder.courses.example.edu/health" in result.stdout
    assert result.stdout.rstrip().endswith("demo: OK")
