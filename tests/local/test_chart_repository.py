"""The stand-in charts as a Helm repository: every chart at its pinned version, served on loopback."""
import urllib.request

import pytest
import yaml

from chalicelib import charts
from coursehub_local.chart_repository import ChartRepository, chart_folders
from coursehub_local.charts import CHART_NAMES, CHARTS_DIR


def test_every_stand_in_is_a_chart_folder_and_subcharts_are_not():
    assert [folder.name for folder in chart_folders()] == sorted(CHART_NAMES)
    assert (CHARTS_DIR / "binderhub" / "charts" / "jupyterhub" / "Chart.yaml").exists()


def test_the_index_lists_every_pinned_chart_served_from_the_repository_and_stop_removes_it():
    repository = ChartRepository().start()
    try:
        assert repository.url.startswith("http://127.0.0.1:")
        index = yaml.safe_load(urllib.request.urlopen(f"{repository.url}/index.yaml", timeout=5).read())
        for chart in charts.PINNED.values():
            (entry,) = index["entries"][chart.name]
            assert entry["version"] == chart.version
            (archive,) = entry["urls"]
            assert archive.startswith(repository.url)
            assert urllib.request.urlopen(archive, timeout=5).status == 200
        folder = repository._folder
    finally:
        repository.stop()
    assert not folder.exists()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{repository.url}/index.yaml", timeout=2)


def test_a_url_before_start_is_an_error():
    with pytest.raises(RuntimeError, match="never started"):
        ChartRepository().url
