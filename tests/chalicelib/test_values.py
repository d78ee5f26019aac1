"""Generated chart values validate against the real chart schemas and use none of the removed settings."""
import base64
import json
import subprocess
from datetime import date

import jsonschema
import pytest
import yaml

from chalicelib import charts, hub_names, image_registry, values
from chalicelib.hub_request import HubRequest, Limits
from coursehub_local.charts import chart_file, chart_path, packages
from coursehub.tools import tool_path

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:coursehub/dev/x-AbCdEf"
REQUEST = HubRequest.parse({
    "course_id": "cs101", "domain": "courses.example.edu", "term_end": "2027-03-01",
    "image_prefix": "coursehub/cs101-", "acme_email": "ops@example.edu", "cors_origin": "https://courses.example.edu",
    "culling": {"timeout": 1800, "max_age": 18000},
    "dockerhub_secret_arn": ARN, "github_token_secret_arn": ARN, "slack_webhook_secret_arn": ARN,
}, Limits(today=date(2026, 11, 27)))
SECRETS = values.ChartSecrets(image_registry.RegistryLogin("", "coursehub", "dockerhub-password-value"),
                              "coursehub/cs101-", "ghp_token_value")
ECR_REQUEST = HubRequest.parse({
    "course_id": "cs101", "domain": "courses.example.edu", "term_end": "2027-03-01", "registry": "ecr",
    "acme_email": "ops@example.edu", "github_token_secret_arn": ARN, "slack_webhook_secret_arn": ARN,
}, Limits(today=date(2026, 11, 27)), {"dockerhub_secret_arn": ARN})
ECR_HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
ECR_SECRETS = values.ChartSecrets(image_registry.RegistryLogin(f"https://{ECR_HOST}", "AWS", "ecr-login-value"),
                                  image_registry.ecr_image_prefix(ECR_HOST, "dev", "cs101"), "ghp_token_value")
TAGS = hub_names.tags("dev", "hub-cs101", "cs101")


def helm_merge(base, override):
    """Merge as helm merges user values over chart defaults: maps recursively, null removes a key."""
    merged = dict(base or {})
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = helm_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load(chart, member, version=None):
    """A real chart package's defaults or schema (helm reads ``values.schema.json`` as YAML/JSON alike)."""
    return yaml.safe_load(chart_file(chart, member, version))


def present(tree, path):
    for key in path:
        if not isinstance(tree, dict) or key not in tree:
            return False
        tree = tree[key]
    return True


@pytest.mark.parametrize("registry", ["dockerhub", "ecr"])
@pytest.mark.parametrize("version", packages()["binderhub"])
def test_binderhub_values_validate_against_both_real_schemas_merged_over_defaults(version, registry):
    generated = (values.binderhub_values(REQUEST, SECRETS) if registry == "dockerhub"
                 else values.binderhub_values(ECR_REQUEST, ECR_SECRETS))
    merged = helm_merge(load("binderhub", "values.yaml", version), generated)
    jsonschema.validate(merged, load("binderhub", "values.schema.json", version))
    hub = helm_merge(load("binderhub", "charts/jupyterhub/values.yaml", version), generated["jupyterhub"])
    jsonschema.validate(hub, load("binderhub", "charts/jupyterhub/values.schema.json", version))


@pytest.mark.parametrize("version", packages()["binderhub"])
def test_a_student_memory_guarantee_reaches_the_user_pods_and_validates(version):
    assert "singleuser" not in values.binderhub_values(REQUEST, SECRETS)["jupyterhub"]  # the chart's: no guarantee
    generated = values.binderhub_values(REQUEST.model_copy(update={"user_memory": "2G"}), SECRETS)
    assert generated["jupyterhub"]["singleuser"] == {"memory": {"guarantee": "2G"}}
    hub = helm_merge(load("binderhub", "charts/jupyterhub/values.yaml", version), generated["jupyterhub"])
    jsonschema.validate(hub, load("binderhub", "charts/jupyterhub/values.schema.json", version))


@pytest.mark.parametrize("path", values.REMOVED_SETTINGS, ids=".".join)
def test_no_removed_setting_is_generated(path):
    assert not present(values.binderhub_values(REQUEST, SECRETS), path)
    assert not present(values.binderhub_values(ECR_REQUEST, ECR_SECRETS), path)


def test_binderhub_values_carry_what_the_request_asks_for():
    generated = values.binderhub_values(REQUEST, SECRETS)
    assert generated["imageBuilderType"] == "dind"
    assert generated["config"]["BinderHub"]["image_prefix"] == "coursehub/cs101-"
    assert generated["config"]["BinderHub"]["cors_allow_origin"] == "https://courses.example.edu"
    assert generated["jupyterhub"]["hub"]["config"]["BinderSpawner"]["cors_allow_origin"] == "https://courses.example.edu"
    assert generated["jupyterhub"]["cull"] == {"enabled": True, "timeout": 1800, "every": 600, "maxAge": 18000}
    assert generated["service"]["type"] == generated["jupyterhub"]["proxy"]["service"]["type"] == "ClusterIP"
    assert generated["ingress"]["hosts"] == ["binder.courses.example.edu"]
    assert generated["jupyterhub"]["ingress"]["hosts"] == ["hub.binder.courses.example.edu"]


def test_placeholders_replace_every_secret():
    printable = json.dumps(values.binderhub_values(REQUEST, values.ChartSecrets.placeholders(REQUEST)))
    for secret in (SECRETS.registry.password, SECRETS.github_token):
        assert secret not in printable
    printable = json.dumps(values.binderhub_values(ECR_REQUEST, values.ChartSecrets.placeholders(ECR_REQUEST, "dev")))
    assert ECR_SECRETS.registry.password not in printable
    assert "ACCOUNT.dkr.ecr.REGION.amazonaws.com/coursehub-dev/cs101/" in printable


def test_an_ecr_hub_pushes_to_the_accounts_registry_with_the_login_in_the_builds_docker_config(tmp_path):
    """The chart renders the login as the builds read it (binderhub templates/_helpers.tpl buildDockerConfig)."""
    generated = values.binderhub_values(ECR_REQUEST, ECR_SECRETS)
    assert generated["config"]["BinderHub"]["image_prefix"] == f"{ECR_HOST}/coursehub-dev/cs101/"
    (secret,) = [o for o in render(charts.BINDERHUB, generated, tmp_path)
                 if o["kind"] == "Secret" and o["metadata"]["name"] == image_registry.DOCKER_CONFIG_SECRET]
    rendered = json.loads(base64.b64decode(secret["data"]["config.json"]))
    assert rendered == image_registry.docker_config(ECR_SECRETS.registry)
    assert base64.b64decode(rendered["auths"][f"https://{ECR_HOST}"]["auth"]).decode() == "AWS:ecr-login-value"


def test_a_dockerhub_hub_keeps_the_charts_default_registry_url(tmp_path):
    generated = values.binderhub_values(REQUEST, SECRETS)
    assert "url" not in generated["registry"]
    (secret,) = [o for o in render(charts.BINDERHUB, generated, tmp_path)
                 if o["kind"] == "Secret" and o["metadata"]["name"] == image_registry.DOCKER_CONFIG_SECRET]
    assert list(json.loads(base64.b64decode(secret["data"]["config.json"]))["auths"]) == ["https://index.docker.io/v1/"]


def render(chart, generated, tmp_path):
    path = tmp_path / f"{chart.name}.json"
    path.write_text(json.dumps(generated))
    result = subprocess.run([str(tool_path("helm")), "template", "release", str(chart_path(chart.name)),
                             "-f", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def test_the_charts_accept_the_values_and_only_the_ingress_gets_a_load_balancer(tmp_path):
    objects = render(charts.BINDERHUB, values.binderhub_values(REQUEST, SECRETS), tmp_path)
    objects += render(charts.INGRESS, values.ingress_values(REQUEST, TAGS), tmp_path)
    objects += render(charts.CERT_MANAGER, values.cert_manager_values(REQUEST), tmp_path)
    balancers = [o["metadata"]["name"] for o in objects if o["kind"] == "Service" and o["spec"].get("type") == "LoadBalancer"]
    assert balancers == ["release-nginx-ingress-controller"]
    ingresses = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Ingress"}
    assert ingresses["binderhub"]["spec"]["tls"][0]["hosts"] == ["binder.courses.example.edu"]
    assert ingresses["jupyterhub"]["metadata"]["annotations"]["cert-manager.io/issuer"] == values.ISSUER_NAME
    assert any(o["kind"] == "CustomResourceDefinition" for o in objects)


def test_the_ingress_load_balancer_is_tagged_with_the_hubs_tags_through_its_service_annotation(tmp_path):
    generated = values.ingress_values(REQUEST, TAGS)
    defaults = yaml.safe_load(chart_file(charts.INGRESS.name, "values.yaml"))
    jsonschema.validate(helm_merge(defaults, generated), json.loads(chart_file(charts.INGRESS.name,
                                                                               "values.schema.json")))
    (service,) = [o for o in render(charts.INGRESS, generated, tmp_path)
                  if o["kind"] == "Service" and o["spec"].get("type") == "LoadBalancer"]
    assert service["metadata"]["annotations"][values.ADDITIONAL_TAGS_ANNOTATION] == \
        "coursehub:hub=hub-cs101,coursehub:stage=dev,coursehub:course=cs101"
    assert values.HEALTH_CHECK_ANNOTATIONS.items() <= service["metadata"]["annotations"].items()
    assert values.ADDITIONAL_TAGS_ANNOTATION not in values.ingress_values(REQUEST)["controller"]["service"][
        "annotations"]


def test_the_issuer_uses_staging_only_when_asked():
    assert values.issuer(REQUEST, "hub")["spec"]["acme"]["server"] == values.ACME_SERVERS[False]
    staging = REQUEST.model_copy(update={"acme_staging": True})
    assert "staging" in values.issuer(staging, "hub")["spec"]["acme"]["server"]


def test_both_ingresses_carry_what_f5_nginx_needs_naming_services_the_charts_route_to(tmp_path):
    objects = render(charts.BINDERHUB, values.binderhub_values(REQUEST, SECRETS), tmp_path)
    services = {o["metadata"]["name"] for o in objects if o["kind"] == "Service"}
    for ingress in (o for o in objects if o["kind"] == "Ingress"):
        annotations = ingress["metadata"]["annotations"]
        assert annotations["acme.cert-manager.io/http01-edit-in-place"] == "true"
        assert annotations["nginx.org/proxy-buffering"] == "false"
        assert annotations["nginx.org/client-max-body-size"] == "64m"
        assert annotations["nginx.org/proxy-read-timeout"] == annotations["nginx.org/proxy-send-timeout"] == "3600s"
        backends = {p["backend"]["service"]["name"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]}
        assert backends == {annotations["nginx.org/websocket-services"]} and backends <= services
