"""The real chart packages as a Helm repository on loopback, which the local stack names in ``CHART_REPOSITORY``.

helm resolves ``--repo``/``--version`` through the repository's ``index.yaml``,
as against the charts' own repositories in production, so a request naming a
version that was never released fails with helm's own "not found". The folder
(``coursehub_local/charts/``) already holds the packages and an index with
relative URLs, so it is served as it is.
"""
from __future__ import annotations

import functools
import http.server
import logging
import threading
from pathlib import Path

from coursehub_local.charts import CHARTS_DIR

log = logging.getLogger(__name__)


class ChartRepository:
    """A Helm repository of the chart packages in ``charts_dir``, over HTTP on ``host``."""

    def __init__(self, host: str = "127.0.0.1", charts_dir: Path = CHARTS_DIR):
        self.host = host
        self.charts_dir = charts_dir
        self._url: str | None = None
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The repository's URL, what helm's ``--repo`` takes."""
        if self._url is None:
            raise RuntimeError("the chart repository was never started")
        return self._url

    def start(self) -> "ChartRepository":
        self._server = http.server.ThreadingHTTPServer(
            (self.host, 0), functools.partial(_QuietHandler, directory=str(self.charts_dir)))
        host, port = self._server.server_address[:2]
        self._url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-stack-charts", daemon=True)
        self._thread.start()
        log.info("chart packages of %s served at %s", self.charts_dir, self.url)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server.server_close()
            self._server = self._thread = None

    def __enter__(self) -> "ChartRepository":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the folder without a log line per request."""

    def log_message(self, *args) -> None:
        pass
