"""A Slack incoming-webhook stand-in on loopback: records every POST, lists them on GET."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WEBHOOK_PATH = "/services/T0LOCAL/B0LOCAL/local-webhook-token"


class SlackReceiver:
    """Records messages posted to ``webhook_url``; ``GET`` on it (or ``messages()``) lists them."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.messages_received: list[dict] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="slack-receiver", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def webhook_url(self) -> str:
        return self.url + WEBHOOK_PATH

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def messages(self) -> list[dict]:
        with self._lock:
            return list(self.messages_received)

    def texts(self) -> list[str]:
        return [m.get("text", "") for m in self.messages()]

    def _handler_class(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server naming
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    message = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    return self._answer(400, b"invalid_payload")
                if self.path != WEBHOOK_PATH:
                    return self._answer(404, b"no_service")
                if not isinstance(message, dict) or not (message.get("text") or message.get("blocks")):
                    return self._answer(400, b"no_text")
                with receiver._lock:
                    receiver.messages_received.append(message)
                self._answer(200, b"ok")

            def do_GET(self):  # noqa: N802
                self._answer(200, json.dumps(receiver.messages()).encode(), "application/json")

            def _answer(self, status: int, body: bytes, kind: str = "text/plain"):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # keep the console for the stack's own output
                pass

        return Handler
