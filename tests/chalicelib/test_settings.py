"""Settings come from the environment and name what is missing."""
import pytest

from chalicelib.errors import SettingsError
from chalicelib.settings import Settings

GOOD = {"STAGE": "dev", "HUB_TABLE_NAME": "hubs", "SLACK_WEBHOOK_SECRET_ARN": "arn:aws:secretsmanager:x"}


def test_settings_are_read_from_the_environment():
    settings = Settings.from_env(GOOD)
    assert settings.hub_table_name == "hubs"
    assert settings.slack_timeout_seconds == 10.0
    assert settings.tools_dir == "/opt" and settings.chart_repository is None  # as on AWS


def test_the_chart_repository_and_tools_dir_can_be_set():
    settings = Settings.from_env({**GOOD, "CHART_REPOSITORY": "http://127.0.0.1:8879", "TOOLS_DIR": "/tools",
                                  "KUBE_TIMEOUT_SECONDS": "60"})
    assert (settings.chart_repository, settings.tools_dir, settings.kube_timeout_seconds) == \
        ("http://127.0.0.1:8879", "/tools", 60)


@pytest.mark.parametrize("value", ["/charts", "oci://ghcr.io/nginx/charts", "charts.example.edu"])
def test_a_chart_repository_that_is_not_an_http_url_is_rejected(value):
    with pytest.raises(SettingsError, match="CHART_REPOSITORY"):
        Settings.from_env({**GOOD, "CHART_REPOSITORY": value})


@pytest.mark.parametrize("value", ["fast", "5", "900"])
def test_a_bad_kube_timeout_is_rejected(value):
    with pytest.raises(SettingsError, match="KUBE_TIMEOUT_SECONDS"):
        Settings.from_env({**GOOD, "KUBE_TIMEOUT_SECONDS": value})


@pytest.mark.parametrize("missing", sorted(GOOD))
def test_a_missing_variable_is_named(missing):
    env = {k: v for k, v in GOOD.items() if k != missing}
    with pytest.raises(SettingsError, match=missing):
        Settings.from_env(env)


@pytest.mark.parametrize("value", ["soon", "0", "120"])
def test_a_bad_slack_timeout_is_rejected(value):
    with pytest.raises(SettingsError, match="SLACK_TIMEOUT_SECONDS"):
        Settings.from_env({**GOOD, "SLACK_TIMEOUT_SECONDS": value})


def test_the_stage_limits_and_default_secrets_come_from_the_environment():
    settings = Settings.from_env({**GOOD, "ALLOWED_INSTANCE_TYPES": "m5.large, c5.xlarge", "MAX_NODES_PER_HUB": "4",
                                  "TERM_HORIZON_DAYS": "120", "DOCKERHUB_SECRET_ARN": "arn:aws:secretsmanager:d",
                                  "GITHUB_TOKEN_SECRET_ARN": ""})
    limits = settings.limits()
    assert (limits.instance_types, limits.max_nodes, limits.term_horizon_days) == (("m5.large", "c5.xlarge"), 4, 120)
    assert settings.request_defaults() == {"registry": "ecr", "dockerhub_secret_arn": "arn:aws:secretsmanager:d",
                                           "slack_webhook_secret_arn": "arn:aws:secretsmanager:x"}
    assert limits.registries == ("ecr", "dockerhub")


def test_the_stage_chooses_its_registries_and_the_first_is_the_default():
    settings = Settings.from_env({**GOOD, "REGISTRIES": "dockerhub"})
    assert settings.limits().registries == ("dockerhub",) and settings.request_defaults()["registry"] == "dockerhub"


@pytest.mark.parametrize("value", ["gcr", "ecr,ecr", "ecr,quay"])
def test_an_unknown_or_repeated_registry_is_rejected_naming_the_variable(value):
    with pytest.raises(SettingsError, match="REGISTRIES"):
        Settings.from_env({**GOOD, "REGISTRIES": value})


@pytest.mark.parametrize("name, value", [("MAX_NODES_PER_HUB", "0"), ("MAX_NODES_PER_HUB", "many"),
                                         ("TERM_HORIZON_DAYS", "1000"), ("SLACK_TIMEOUT_SECONDS", "0")])
def test_a_limit_out_of_range_is_named(name, value):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({**GOOD, name: value})


def test_extended_support_is_off_unless_the_stage_allows_it():
    assert Settings.from_env(GOOD).limits().allow_extended_support is False
    assert Settings.from_env({**GOOD, "ALLOW_EXTENDED_SUPPORT": "true"}).limits().allow_extended_support is True
    with pytest.raises(SettingsError, match="ALLOW_EXTENDED_SUPPORT"):
        Settings.from_env({**GOOD, "ALLOW_EXTENDED_SUPPORT": "yes"})


def test_staging_hubs_are_verified_against_lets_encrypts_staging_roots_unless_the_stage_names_others(tmp_path):
    import ssl

    shipped = Settings.from_env(GOOD).acme_staging_roots
    names = {dict(n[0] for n in c["subject"])["commonName"]
             for c in ssl.create_default_context(cafile=shipped).get_ca_certs()}
    assert names == {"(STAGING) Pretend Pear X1", "(STAGING) Bogus Broccoli X2",
                     "(STAGING) Yearning Yucca Root YE", "(STAGING) Yonder Yam Root YR"}
    own = tmp_path / "roots.pem"
    own.write_text("")
    assert Settings.from_env({**GOOD, "ACME_STAGING_ROOTS": str(own)}).acme_staging_roots == str(own)
    with pytest.raises(SettingsError, match="ACME_STAGING_ROOTS"):
        Settings.from_env({**GOOD, "ACME_STAGING_ROOTS": str(tmp_path / "missing.pem")})


def test_a_function_missing_a_variable_it_needs_fails_naming_it():
    settings = Settings.from_env(GOOD)  # what every function needs is there
    assert settings.for_function("check_cluster") is settings  # needs nothing more
    with pytest.raises(SettingsError, match="CLUSTER_ROLE_ARN"):
        settings.for_function("create_cluster")
    with pytest.raises(SettingsError, match="PROVISION_STATE_MACHINE_ARN"):
        settings.for_function("api_handler")


def test_a_function_handler_refuses_to_run_without_its_settings(monkeypatch):
    import app
    from chalicelib import handlers
    from chalice.local import LambdaContext

    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CLUSTER_ROLE_ARN", raising=False)
    handlers.cold_start()
    with pytest.raises(SettingsError, match="CLUSTER_ROLE_ARN"):
        app.create_cluster({"hub_id": "hub-x", "request": {}}, LambdaContext("coursehub-dev-create_cluster", 256))
    handlers.cold_start()


@pytest.mark.parametrize("stage", ["Prod", "dev-eu", "a" * 21, "2dev"])
def test_a_stage_that_cannot_be_part_of_every_aws_name_is_rejected(stage):
    with pytest.raises(SettingsError, match="STAGE must be 1 to 20 lowercase letters or digits"):
        Settings.from_env({**GOOD, "STAGE": stage})
