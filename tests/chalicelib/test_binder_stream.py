"""binder_stream against a scripted BinderHub event stream served on 127.0.0.1 (plain HTTP, real sockets)."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chalicelib import binder_stream
from chalicelib.binder_stream import LaunchFailed, LaunchNotReady, StreamTimings

FAST = StreamTimings(window=0.3, idle=0.5, launch=1.0, end_wait=0.2)
READY = {"phase": "ready", "message": "server running at https://hub.example.edu/user/x/\n",
         "url": "https://hub.example.edu/user/x/", "token": "tok-123", "image": "r/i:1"}


def event(phase, message="", **more):
    return f"data: {json.dumps({'phase': phase, 'message': message, **more})}\n\n".encode()


@pytest.fixture
def binderhub():
    """A server that plays ``script``: (seconds to sleep, bytes) steps; ``None`` bytes end the stream."""
    script: list = []
    status = {"code": 200}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            if status["code"] != 200:
                self.send_error(status["code"])
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                for pause, data in script:
                    time.sleep(pause)
                    if data is None:
                        return
                    self.wfile.write(data)
                    self.wfile.flush()
                time.sleep(5)  # as BinderHub after ready: the client closes first
            except OSError:
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/build/gh/o/r/HEAD"
    yield script, status, url
    server.shutdown()
    server.server_close()


def test_a_build_followed_to_ready_gives_the_server(binderhub):
    script, _, url = binderhub
    script += [(0, event("waiting", "Waiting for build to start...\n")), (0, event("building", "Step 1/3\n")),
               (0, b":keepalive\n\n"), (0, event("pushing", "Pushing image\n")),
               (0, event("built", "Built image, launching...\n")), (0, event("launching", "Launching server...\n")),
               (0.05, event(**READY)), (0.1, b":keepalive\n\n")]  # and the stream stays open
    progress = binder_stream.follow(url, FAST)
    assert progress.server == {"url": READY["url"], "token": "tok-123", "image": "r/i:1"}
    assert "tok-123" not in json.dumps(progress.summary())  # what may travel in the state


def test_the_first_read_stops_at_the_first_event_while_building(binderhub):
    script, _, url = binderhub
    script += [(0, event("waiting", "Waiting for build to start...\n")), (2, event("building", "late\n"))]
    started = time.monotonic()
    progress = binder_stream.follow(url, FAST, first_read=True)
    assert (progress.phase, progress.server, progress.events) == ("waiting", None, 1)
    assert time.monotonic() - started < 1


def test_a_read_ends_at_its_window_while_the_image_builds(binderhub):
    script, _, url = binderhub
    script += [(0, event("waiting")), *[(0.1, event("building", f"line {i}\n")) for i in range(20)]]
    progress = binder_stream.follow(url, FAST)
    assert progress.server is None and progress.check_phase == "build"
    assert progress.last_message.startswith("line")


def test_a_push_failure_names_the_push_phase_and_the_registrys_words(binderhub):
    script, _, url = binderhub
    script += [(0, event("waiting")), (0, event("pushing", "denied: requested access to the resource is denied\n")),
               (0, event("failed", "Failed to push image\n"))]
    with pytest.raises(LaunchFailed) as failed:
        binder_stream.follow(url, FAST)
    assert failed.value.phase == "push"
    assert "requested access to the resource is denied" in failed.value.cause


def test_a_launch_that_never_gets_ready_fails_in_the_schedule_phase(binderhub):
    script, _, url = binderhub
    script += [(0, event("built", "Found built image, launching...\n")),
               *[(0.1, event("launching", "0/2 nodes are available: 2 Insufficient memory.\n")) for _ in range(30)]]
    with pytest.raises(LaunchFailed) as failed:
        binder_stream.follow(url, FAST)
    assert failed.value.phase == "schedule" and "Insufficient memory" in failed.value.cause


def test_a_silent_stream_is_held_back(binderhub):
    script, _, url = binderhub
    script += [(2, event("waiting"))]
    with pytest.raises(LaunchFailed) as failed:
        binder_stream.follow(url, FAST)
    assert failed.value.phase == "build" and "sent nothing for 0.5 s" in failed.value.cause


@pytest.mark.parametrize("held", [0, 0.05], ids=["ready with the end", "ready and keepalives, then the end"])
def test_the_end_of_the_stream_right_after_ready_shows_a_buffering_proxy(binderhub, held):
    """A buffering proxy passes ready on when its buffer fills or the stream ends; BinderHub's keepalives after it
    stay in the buffer until the end."""
    script, _, url = binderhub
    script += [(0, event("waiting") + event("built") + event("launching") + event(**READY) + b":keepalive\n\n"),
               (held, None)]
    with pytest.raises(LaunchFailed) as failed:
        binder_stream.follow(url, FAST)
    assert failed.value.phase == "build" and "proxy-buffering" in failed.value.cause


def test_binderhub_not_answering_is_not_ready(binderhub):
    _, status, url = binderhub
    status["code"] = 503
    with pytest.raises(LaunchNotReady, match="build: .* answered HTTP 503"):
        binder_stream.follow(url, FAST)


def test_a_launch_that_fails_keeps_the_schedulers_words_from_before_the_bare_failure(binderhub):
    script, _, url = binderhub
    script += [(0, event("built")), (0, event("launching", "Launching server...\n")),
               (0, event("launching", "2026-12-06T09:00:00Z [Warning] 0/2 nodes are available: 2 Insufficient "
                                      "memory.\n")),
               *[(0, event("launching", f"Launch attempt {i} failed, retrying...\n")) for i in (1, 2, 3)],
               (0, event("failed", "Spawn failed: \n", status_code=500))]
    with pytest.raises(LaunchFailed) as failed:
        binder_stream.follow(url, FAST)
    assert failed.value.phase == "schedule"
    assert "Spawn failed" in failed.value.cause and "2 Insufficient memory" in failed.value.cause
