"""Every stand-in renders with its defaults and passes ``helm lint`` under helm 4 and helm 3."""
import pytest

from coursehub_local.charts import CHART_NAMES, chart_path


@pytest.mark.parametrize("chart", CHART_NAMES)
def test_each_chart_renders_with_its_defaults(helm, chart):
    assert helm.render(chart), f"{chart} rendered no objects"


@pytest.mark.parametrize("chart", CHART_NAMES)
def test_each_chart_passes_helm_lint(helm, chart):
    result = helm.run("lint", str(chart_path(chart)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[ERROR]" not in result.stdout


def test_cert_manager_lints_with_its_crds(helm):
    result = helm.run("lint", str(chart_path("cert-manager")), "--set", "crds.enabled=true")
    assert result.returncode == 0, result.stdout + result.stderr
