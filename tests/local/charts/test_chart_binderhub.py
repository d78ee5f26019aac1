"""The real BinderHub chart (with its jupyterhub subchart): what it renders from the workflow's values, and what it rejects."""
import base64
import json
import re

import pytest
import yaml
from chart_objects import find, names, write_values

GITHUB_TOKEN = "ghp_do_not_print_me_0123456789"
REGISTRY_PASSWORD = "dockerhub-password-do-not-print"

# The values the workflow generates for a DockerHub registry behind nginx-ingress + cert-manager.
MODERN_VALUES = {
    "registry": {"username": "courseorg", "password": REGISTRY_PASSWORD},
    "imageBuilderType": "dind",
    "service": {"type": "ClusterIP"},
    "config": {
        "BinderHub": {
            "use_registry": True,
            "image_prefix": "courseorg/coursehub-",
            "hub_url": "https://hub.course.example.org",
            "cors_allow_origin": "https://course.example.org",
        },
        "GitHubRepoProvider": {"access_token": GITHUB_TOKEN},
    },
    "ingress": {
        "enabled": True,
        "ingressClassName": "nginx",
        "annotations": {"cert-manager.io/issuer": "letsencrypt-staging"},
        "hosts": ["binder.course.example.org"],
        "tls": [{"secretName": "binder-tls", "hosts": ["binder.course.example.org"]}],
    },
    "jupyterhub": {
        "cull": {"enabled": True, "timeout": 3600, "every": 600, "maxAge": 18000},
        "hub": {"config": {"BinderSpawner": {"cors_allow_origin": "https://course.example.org"}}},
        "proxy": {"service": {"type": "ClusterIP"}},
        "ingress": {
            "enabled": True,
            "ingressClassName": "nginx",
            "annotations": {"cert-manager.io/issuer": "letsencrypt-staging"},
            "hosts": ["hub.course.example.org"],
            "tls": [{"secretName": "hub-tls", "hosts": ["hub.course.example.org"]}],
        },
    },
}

# Removed settings: (--set argument, whether values.schema.json already rejects the key).
REMOVED = [
    ("hub.url=https://hub.course.example.org", True),
    (f"github.accessToken={GITHUB_TOKEN}", True),
    (f"gitlab.accessToken={GITHUB_TOKEN}", True),
    ("build.repo2dockerImage=quay.io/jupyterhub/repo2docker:main", True),
    ("perRepoQuota=10", True),
    ("registry.enabled=true", True),
    ("registry.host=https://registry-1.docker.io", True),
    ("registry.authHost=https://index.docker.io/v1", True),
    ("registry.tokenUrl=https://auth.docker.io/token?service=registry.docker.io", True),
    ("registry.prefix=courseorg/coursehub-", True),
    ("cors.allowOrigin=*", False),
    ("jupyterhub.custom.cors.allowOrigin=*", False),
    ("dind.enabled=true", False),
    ("imageCleaner.host.enabled=true", False),
    ("imageCleaner.host.dockerSocket=/var/run/docker.sock", False),
]


def setting(argument: str) -> str:
    """The dotted setting that a --set argument names, cut to the part the chart checks."""
    key = argument.split("=", 1)[0]
    top = key.split(".")[0]
    return top if top in ("hub", "github", "gitlab", "build") else key


@pytest.fixture(scope="module")
def modern(helm, tmp_path_factory):
    values = write_values(tmp_path_factory.mktemp("binderhub"), MODERN_VALUES)
    return helm.render("binderhub", "--values", values, release="binderhub", namespace="binderhub")


def test_defaults_create_the_real_object_names(helm):
    objects = helm.render("binderhub", release="bhub")
    for kind, name in [("Deployment", "binder"), ("Service", "binder"), ("Secret", "binder-secret"),
                       ("Deployment", "hub"), ("Deployment", "proxy"), ("Service", "hub"),
                       ("Service", "proxy-api"), ("Service", "proxy-public")]:
        assert (kind, name) in names(objects)
    assert not [n for k, n in names(objects) if k == "Ingress"]


def test_both_public_services_default_to_load_balancers(helm):
    objects = helm.render("binderhub")
    assert find(objects, "Service", "binder")["spec"]["type"] == "LoadBalancer"
    assert find(objects, "Service", "proxy-public")["spec"]["type"] == "LoadBalancer"


def test_binder_service_maps_port_80_to_8585(helm):
    (port,) = find(helm.render("binderhub"), "Service", "binder")["spec"]["ports"]
    assert (port["port"], port["targetPort"]) == (80, 8585)


def test_proxy_public_serves_only_http_without_https(helm):
    ports = find(helm.render("binderhub"), "Service", "proxy-public")["spec"]["ports"]
    assert [(p["name"], p["port"]) for p in ports] == [("http", 80)]


def test_proxy_public_lists_https_before_http_as_the_real_chart_does(helm):
    objects = helm.render("binderhub", "--set", "jupyterhub.proxy.https.enabled=true",
                          "--set", "jupyterhub.proxy.https.type=offload")
    ports = find(objects, "Service", "proxy-public")["spec"]["ports"]
    assert [(p["name"], p["port"], p["targetPort"]) for p in ports] == [("https", 443, "http"), ("http", 80, "http")]


def test_jupyterhub_fullname_override_prefixes_its_objects(helm):
    objects = helm.render("binderhub", "--set", "jupyterhub.fullnameOverride=jh",
                          "--set", "jupyterhub.ingress.enabled=true")
    for kind, name in [("Deployment", "jh-hub"), ("Service", "jh-proxy-public"), ("Service", "jh-proxy-api"),
                       ("Ingress", "jh")]:
        assert (kind, name) in names(objects)


def test_modern_values_make_both_services_cluster_ip(modern):
    assert find(modern, "Service", "binder")["spec"]["type"] == "ClusterIP"
    assert find(modern, "Service", "proxy-public")["spec"]["type"] == "ClusterIP"


@pytest.mark.parametrize("ingress, service, host, secret", [
    ("binderhub", "binder", "binder.course.example.org", "binder-tls"),
    ("jupyterhub", "proxy-public", "hub.course.example.org", "hub-tls"),
])
def test_modern_values_route_each_host_through_an_nginx_ingress_with_tls(modern, ingress, service, host, secret):
    spec = find(modern, "Ingress", ingress)
    assert spec["metadata"]["annotations"] == {"cert-manager.io/issuer": "letsencrypt-staging"}
    assert spec["spec"]["ingressClassName"] == "nginx"
    (rule,) = spec["spec"]["rules"]
    assert rule["host"] == host
    (path,) = rule["http"]["paths"]
    assert (path["path"], path["pathType"]) == ("/", "Prefix")
    assert path["backend"]["service"]["name"] == service
    assert spec["spec"]["tls"] == [{"hosts": [host], "secretName": secret}]


def test_secrets_are_stored_as_the_real_chart_stores_them(modern):
    secret_values = yaml.safe_load(find(modern, "Secret", "binder-secret")["stringData"]["values.yaml"])
    # The real chart keeps all its values in this Secret (templates/secret.yaml), the token among them.
    assert secret_values["config"]["GitHubRepoProvider"]["access_token"] == GITHUB_TOKEN
    docker = json.loads(base64.b64decode(find(modern, "Secret", "binder-build-docker-config")["data"]["config.json"]))
    auth = docker["auths"]["https://index.docker.io/v1/"]["auth"]
    assert base64.b64decode(auth).decode() == f"courseorg:{REGISTRY_PASSWORD}"
    assert not [o for o in modern if o["kind"] == "ConfigMap" and GITHUB_TOKEN in str(o)]


@pytest.mark.parametrize("argument, in_schema", REMOVED, ids=[a.split("=")[0] for a, _ in REMOVED])
def test_each_removed_setting_fails_with_a_message_naming_it(helm, argument, in_schema):
    name = setting(argument)
    errors = helm.fails("binderhub", "--set", argument)
    parent, _, last = name.rpartition(".")
    if in_schema:
        # values.schema.json rejects the key before any template runs; helm 3 and 4 word it differently.
        assert re.search(rf"[Aa]dditional propert(y|ies) '?{re.escape(last)}'? (is )?not allowed", errors), errors
        assert parent.split(".")[0] in errors or not parent
    else:
        # templates/NOTES.txt fails on settings the schema still lists (RENAMED/CHANGED blocks).
        assert re.search(rf"(REMOVED|RENAMED|CHANGED)", errors) and last in errors, errors
    assert GITHUB_TOKEN not in errors


@pytest.mark.parametrize("argument, rejected", [
    ("imageBuilderType=docker", "imageBuilderType"),
    ("notAChartSetting=1", "notAChartSetting"),
    ("service.type=Balanced", "type"),
    ("jupyterhub.notAChartSetting=1", "notAChartSetting"),
    ("jupyterhub.proxy.service.type=Balanced", "type"),
])
def test_values_the_real_schemas_reject_fail_validation(helm, argument, rejected):
    errors = helm.fails("binderhub", "--set", argument)
    assert "schema" in errors and rejected in errors


def test_the_jupyterhub_subchart_fails_on_its_own_removed_settings(helm):
    assert "hub.fsGid" in helm.fails("binderhub", "--set", "jupyterhub.hub.fsGid=1000")
