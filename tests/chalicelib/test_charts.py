"""Chart references: the real repositories at pinned versions, or one repository mirroring them all."""
import os

import pytest
import yaml

from chalicelib import charts
from chalicelib.errors import KubeCommandFailed
from chalicelib.runner import Runner
from coursehub_local.chart_repository import ChartRepository
from coursehub_local.charts import chart_file
from coursehub.tools import tool_path

MIRROR = "https://charts.example.edu/mirror"


@pytest.fixture(scope="module")
def stand_ins():
    """The real chart packages served as a Helm repository, as the local stack serves them."""
    with ChartRepository() as repository:
        yield repository.url


@pytest.fixture
def helm():
    with Runner(str(tool_path("helm").parent), os.devnull, 60) as runner:
        yield runner


def test_production_references_pin_a_version_in_the_right_form():
    assert charts.INGRESS.reference() == ["oci://ghcr.io/nginx/charts/nginx-ingress", "--version", "2.6.4"]
    assert charts.BINDERHUB.reference() == ["binderhub", "--repo", "https://jupyterhub.github.io/helm-chart",
                                            "--version", charts.BINDERHUB.version]
    assert all(chart.version and chart.version != "latest" for chart in charts.PINNED.values())


def test_a_mirror_repository_serves_every_chart_by_name_at_its_pinned_version():
    assert charts.INGRESS.reference(MIRROR) == ["nginx-ingress", "--repo", MIRROR, "--version", "2.6.4"]  # not OCI
    for chart in charts.PINNED.values():
        assert chart.reference(MIRROR) == [chart.name, "--repo", MIRROR, "--version", chart.version]
    assert charts.CERT_MANAGER.reference(None) == charts.CERT_MANAGER.reference()


def test_every_pinned_chart_is_a_released_package_of_that_name_and_version():
    for chart in charts.PINNED.values():
        meta = yaml.safe_load(chart_file(chart.name, "Chart.yaml"))
        assert (meta["name"], meta["version"]) == (chart.name, chart.version)


def test_helm_renders_each_pinned_chart_through_its_mirror_reference(stand_ins, helm):
    for chart in charts.PINNED.values():
        assert "kind:" in helm.helm("template", "release", *chart.reference(stand_ins))


def test_a_version_the_mirror_lacks_fails_with_helms_not_found(stand_ins, helm):
    missing = charts.Chart("binderhub", charts.BINDERHUB.repository, "9.9.9")
    with pytest.raises(KubeCommandFailed) as raised:
        helm.helm("template", "release", *missing.reference(stand_ins))
    assert type(raised.value) is KubeCommandFailed
    assert 'chart "binderhub" version "9.9.9" not found' in str(raised.value)
