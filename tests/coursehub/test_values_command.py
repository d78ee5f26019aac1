"""``coursehub values`` prints what the workflow installs, with secrets as placeholders."""
import json
import subprocess
import sys
from datetime import date, timedelta

from coursehub_local.stack import ROOT

EXAMPLE = ROOT / "examples" / "cs101.json"


def coursehub(*args):
    return subprocess.run([sys.executable, "-m", "coursehub.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def request_file(tmp_path, **changes):
    data = json.loads(EXAMPLE.read_text())
    data["term_end"] = (date.today() + timedelta(days=90)).isoformat()  # the example's date ages
    data.update(changes)
    path = tmp_path / "request.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_binderhub_values_for_the_example_have_placeholders_for_secrets(tmp_path):
    result = coursehub("values", request_file(tmp_path), "--chart", "binderhub")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["registry"] == {"url": "https://ACCOUNT.dkr.ecr.REGION.amazonaws.com", "username": "AWS",
                                   "password": "<ECR login, renewed every 6 hours>"}
    assert printed["config"]["BinderHub"]["image_prefix"] == "ACCOUNT.dkr.ecr.REGION.amazonaws.com/coursehub-STAGE/cs101/"
    assert printed["config"]["GitHubRepoProvider"]["access_token"] == "<from github_token_secret_arn>"
    assert printed["ingress"]["hosts"] == ["binder.courses.example.edu"]
    dockerhub = json.loads(coursehub("values", request_file(tmp_path, registry="dockerhub",
                                                           image_prefix="coursehub/cs101-"),
                                     "--chart", "binderhub").stdout)
    assert dockerhub["registry"] == {"username": "<dockerhub-username>", "password": "<from dockerhub_secret_arn>"}


def test_the_printed_ecr_values_render_with_the_real_binderhub_chart(tmp_path):
    from coursehub.tools import tool_path
    from coursehub_local.charts import chart_path

    values = tmp_path / "values.json"
    values.write_text(coursehub("values", request_file(tmp_path), "--chart", "binderhub").stdout)
    rendered = subprocess.run([str(tool_path("helm")), "template", "binderhub", str(chart_path("binderhub")),
                               "-f", str(values)], capture_output=True, text=True, timeout=60)
    assert rendered.returncode == 0, rendered.stderr
    assert "name: binder-build-docker-config" in rendered.stdout


def test_every_chart_prints(tmp_path):
    for chart in ("ingress", "cert-manager", "issuer"):
        result = coursehub("values", request_file(tmp_path), "--chart", chart)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)
    issuer = json.loads(coursehub("values", request_file(tmp_path), "--chart", "issuer").stdout)
    assert "staging" in issuer["spec"]["acme"]["server"]  # the example rehearses with staging


def test_an_invalid_request_names_the_fields(tmp_path):
    result = coursehub("values", request_file(tmp_path, course_id="CS 101", image_builder="host"))
    assert result.returncode == 2
    assert "course_id:" in result.stderr and "image_builder:" in result.stderr
