"""Settings come from the environment and name what is missing."""
import pytest

from chalicelib.errors import SettingsError
from chalicelib.settings import Settings

GOOD = {"STAGE": "dev", "HUB_TABLE_NAME": "hubs", "SLACK_WEBHOOK_SECRET_ARN": "arn:aws:secretsmanager:x"}


def test_settings_are_read_from_the_environment():
    settings = Settings.from_env(GOOD)
    assert settings.hub_table_name == "hubs"
    assert settings.slack_timeout_seconds == 10.0
    assert settings.tools_dir == "/opt" and settings.chart_directory is None  # as on AWS


def test_the_chart_directory_and_tools_dir_can_be_set():
    settings = Settings.from_env({**GOOD, "CHART_DIRECTORY": "/charts", "TOOLS_DIR": "/tools",
                                  "KUBE_TIMEOUT_SECONDS": "60"})
    assert (settings.chart_directory, settings.tools_dir, settings.kube_timeout_seconds) == ("/charts", "/tools", 60)


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
