"""The stand-in charts as a Helm repository on loopback, which the local stack names in ``CHART_REPOSITORY``.

helm installs a chart from a folder whatever ``--version`` says; from a
repository it resolves ``--repo``/``--version`` through the repository's
``index.yaml``, as against the real repositories production uses, so a request
naming a version the stand-ins lack fails with helm's own "not found".
Packaging the three charts with ``helm package`` and ``helm repo index`` takes
a few tenths of a second, so the stack does it once when it starts.
"""
from __future__ import annotations

import functools
import http.server
import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from chalicelib.runner import Runner
from coursehub_local.charts import CHARTS_DIR
from coursehub_local.tools import tool_path

log = logging.getLogger(__name__)
HELM_TIMEOUT_S = 30


def chart_folders(charts_dir: Path = CHARTS_DIR) -> list[Path]:
    """Every chart directly under ``charts_dir`` (a folder with a Chart.yaml); subcharts travel inside their parent."""
    return sorted(chart.parent for chart in charts_dir.glob("*/Chart.yaml"))


def package(charts: list[Path], folder: Path, url: str) -> None:
    """Package ``charts`` into ``folder`` and index them as served from ``url``, with the stack's helm."""
    with Runner(str(tool_path("helm").parent), os.devnull, HELM_TIMEOUT_S) as helm:
        for chart in charts:
            helm.helm("package", str(chart), "--destination", str(folder))
        helm.helm("repo", "index", str(folder), "--url", url)


class ChartRepository:
    """A Helm repository of the stand-in charts over HTTP on ``host``; ``start()`` packages and serves them."""

    def __init__(self, host: str = "127.0.0.1", charts_dir: Path = CHARTS_DIR):
        self.host = host
        self.charts_dir = charts_dir
        self.packaging_seconds: float | None = None
        self._url: str | None = None
        self._folder: Path | None = None
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The repository's URL, what helm's ``--repo`` takes."""
        if self._url is None:
            raise RuntimeError("the chart repository was never started")
        return self._url

    def start(self) -> "ChartRepository":
        self._folder = Path(tempfile.mkdtemp(prefix="coursehub-local-charts-"))
        # Listen first: the index names the URL, port included.
        self._server = http.server.ThreadingHTTPServer(
            (self.host, 0), functools.partial(_QuietHandler, directory=str(self._folder)))
        host, port = self._server.server_address[:2]
        self._url = f"http://{host}:{port}"
        try:
            started = time.perf_counter()
            charts = chart_folders(self.charts_dir)
            package(charts, self._folder, self.url)
            self.packaging_seconds = time.perf_counter() - started
        except BaseException:
            self.stop()
            raise
        log.info("packaged %d stand-in charts in %.2f s, served at %s", len(charts), self.packaging_seconds, self.url)
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-stack-charts", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            if self._thread is not None:
                self._server.shutdown()
                self._thread.join(timeout=5)
            self._server.server_close()
            self._server = self._thread = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> "ChartRepository":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the folder without a log line per request."""

    def log_message(self, *args) -> None:
        pass
