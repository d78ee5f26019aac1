"""The real chart packages as a Helm repository: every pinned chart at its version, served on loopback."""
import hashlib
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from chalicelib import charts
from coursehub_local.chart_repository import ChartRepository
from coursehub_local.charts import CHARTS_DIR, chart_file, chart_path, packages

SHARED_CHARTS = Path(__file__).resolve().parents[3] / "shared" / "charts"


def test_every_pinned_version_is_a_package_the_repository_holds():
    for chart in charts.PINNED.values():
        assert chart.version in packages()[chart.name]
        assert chart_path(chart.name).is_file()


def test_a_version_that_was_never_released_has_no_package():
    with pytest.raises(KeyError, match="2.7.2"):
        chart_path("nginx-ingress", "2.7.2")


def test_the_packages_are_the_upstream_ones_byte_for_byte():
    if not SHARED_CHARTS.is_dir():
        pytest.skip("the reference chart packages are not beside this checkout")
    for package in [*CHARTS_DIR.glob("*.tgz"), CHARTS_DIR / "index.yaml"]:
        upstream = SHARED_CHARTS / package.name
        assert hashlib.sha256(package.read_bytes()).digest() == hashlib.sha256(upstream.read_bytes()).digest()


def test_the_binderhub_package_bundles_the_jupyterhub_chart_it_declares():
    bundled = yaml.safe_load(chart_file("binderhub", "charts/jupyterhub/Chart.yaml"))
    declared = yaml.safe_load(chart_file("binderhub", "Chart.yaml"))["dependencies"]
    assert [(d["name"], d["version"]) for d in declared] == [("jupyterhub", bundled["version"])]


def test_the_index_lists_every_pinned_chart_served_from_the_repository_and_stop_ends_it():
    repository = ChartRepository().start()
    try:
        assert repository.url.startswith("http://127.0.0.1:")
        index = yaml.safe_load(urllib.request.urlopen(f"{repository.url}/index.yaml", timeout=5).read())
        for chart in charts.PINNED.values():
            (entry,) = [e for e in index["entries"][chart.name] if e["version"] == chart.version]
            (archive,) = entry["urls"]
            url = urllib.parse.urljoin(f"{repository.url}/index.yaml", archive)
            assert urllib.request.urlopen(url, timeout=5).read() == chart_path(chart.name).read_bytes()
    finally:
        repository.stop()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{repository.url}/index.yaml", timeout=2)


def test_a_url_before_start_is_an_error():
    with pytest.raises(RuntimeError, match="never started"):
        ChartRepository().url
