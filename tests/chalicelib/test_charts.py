"""Chart references: the real repositories at pinned versions, or the stand-ins from one folder."""
import subprocess

import yaml

from chalicelib import charts
from coursehub_local.charts import CHARTS_DIR
from coursehub_local.tools import tool_path


def test_production_references_pin_a_version_in_the_right_form():
    assert charts.INGRESS.reference() == ["oci://ghcr.io/nginx/charts/nginx-ingress", "--version", "2.7.2"]
    assert charts.BINDERHUB.reference() == ["binderhub", "--repo", "https://jupyterhub.github.io/helm-chart",
                                            "--version", charts.BINDERHUB.version]
    assert all(chart.version and chart.version != "latest" for chart in charts.PINNED.values())


def test_every_pinned_chart_has_a_stand_in_of_the_same_name_and_version():
    for chart in charts.PINNED.values():
        (folder,) = chart.reference(str(CHARTS_DIR))
        meta = yaml.safe_load(open(f"{folder}/Chart.yaml"))
        assert (meta["name"], meta["version"]) == (chart.name, chart.version)


def test_helm_renders_each_stand_in_through_its_reference():
    for chart in charts.PINNED.values():
        result = subprocess.run([str(tool_path("helm")), "template", "release", *chart.reference(str(CHARTS_DIR))],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
