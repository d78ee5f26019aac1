"""Follow a BinderHub build and launch as a student's browser does: through its ``/build/...`` event stream.

The protocol is BinderHub's (``binderhub/builder.py`` ``BuildHandler``, jupyterhub/binderhub b9fad995):
``GET /build/<provider>/<spec>`` answers ``text/event-stream``, a ``data: {json}`` event per step, each with a
``phase`` (waiting, fetching, unknown, building, pushing, built, launching, ready, failed) and a ``message``.
BinderHub writes a ``:keepalive`` comment every 25 s (``KEEPALIVE_INTERVAL``), the ``ready`` event carries the
server's ``url`` and ``token`` (``launcher.py``), and after it the stream stays open for 60 s so that the
client closes first.

Reading it in pieces is safe only while the image builds: the build is a pod that goes on without the stream,
and a new stream attaches to it again and replays its log (``build.py`` ``submit`` takes the existing pod). A
launch is not: BinderHub abandons a launch whose stream closes (``emit`` raises ``Finish``). So a read stops
at its window only while the image builds; once it sees ``built`` it follows the launch to ``ready`` or
``failed``, for ``launch_seconds`` at most.

Two signs show a proxy that buffers the stream (F5 NGINX's default ``proxy_buffering on`` holds a response
until a 4 KiB buffer fills or the upstream ends): no byte for longer than BinderHub's keepalive interval, and
the end of the stream right after ``ready``: BinderHub keeps it open 60 s after ``ready``, so an unbuffered
stream does not end for a minute, while a buffering proxy passes ``ready`` on (with the keepalives after it)
only when its buffer fills or the stream ends. The reader watches for the end for ``end_wait`` seconds before
it takes the server.
"""
from __future__ import annotations

import json
import socket
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Callable, Iterator

from chalicelib.errors import CourseHubError

# BinderHub's phases, by the phase of the check they belong to.
PHASES = {"waiting": "build", "fetching": "build", "unknown": "build", "building": "build", "pushing": "push",
          "built": "schedule", "launching": "schedule", "ready": "schedule"}
LAUNCH_PHASES = ("built", "launching")
CONNECT_SECONDS = 10.0  # to connect and get the answer's headers; the stream's reads then get ``idle``
KEEPALIVE = object()  # a comment line: the stream is alive


class LaunchNotReady(CourseHubError):
    """The image is still being built or pushed (retry later); the message names the phase."""

    def __init__(self, phase: str, message: str):
        super().__init__(f"{phase}: {message}")
        self.phase = phase


class LaunchFailed(CourseHubError):
    """A phase of the test launch failed; the message names the phase and the cause. ``server``: the server
    BinderHub started all the same (its url and token), to be stopped."""

    def __init__(self, phase: str, cause: str, server: dict | None = None):
        super().__init__(f"{phase}: {cause}")
        self.phase, self.cause, self.server = phase, cause, server


@dataclass(frozen=True)
class StreamTimings:
    """How a check reads the stream (seconds): its window while the image builds (from the first event), the
    longest silence, the launch's bound, and how long it watches for the end of the stream after ``ready``
    (well below BinderHub's 60 s hold)."""

    window: float = 20.0
    idle: float = 40.0
    launch: float = 600.0
    end_wait: float = 5.0


@dataclass
class Progress:
    """What one read of the stream saw."""

    phase: str = "waiting"  # BinderHub's last phase
    messages: list[str] = field(default_factory=list)  # the last few messages
    events: int = 0
    server: dict | None = None  # the ready event's url, token and image
    failed_in: str = ""  # the check's phase BinderHub was in when it reported the failure
    warning: str = ""  # the last Kubernetes warning the launch passed on (the scheduler's words, say)

    def saw(self, event: dict) -> None:
        self.events += 1
        phase = str(event.get("phase") or self.phase)
        if phase == "failed":
            self.failed_in = PHASES.get(self.phase, "build")
        self.phase = phase
        message = str(event.get("message") or "").strip()
        if message:
            self.messages = [*self.messages, message][-3:]
        if "[Warning]" in message:  # kubespawner's progress: "<time> [Warning] <event message>"
            self.warning = message

    @property
    def check_phase(self) -> str:
        return PHASES.get(self.phase, "build")

    @property
    def last_message(self) -> str:
        return self.messages[-1] if self.messages else "(no message)"

    def summary(self) -> dict:
        """What may travel in the workflow's state: never the server's token."""
        return {"phase": self.phase, "check_phase": self.check_phase, "events": self.events,
                "message": self.last_message[:300], "ready": self.server is not None}


def build_url(binder_host: str, repository: str) -> str:
    """BinderHub's build endpoint for ``repository`` (``gh/<owner>/<repo>/<ref>``)."""
    return f"https://{binder_host}/build/{repository}"


def follow(url: str, timings: StreamTimings, *, cafile: str | None = None, first_read: bool = False,
           clock: Callable[[], float] = time.monotonic) -> Progress:
    """Read the build stream at ``url`` for one window (``first_read``: until its first event).

    Returns the progress when the server is ready (``server`` set) or the window ends while the image builds;
    raises LaunchFailed naming the phase when BinderHub reports a failure, the stream stalls or arrives
    buffered, or the launch takes longer than ``timings.launch``; LaunchNotReady when BinderHub does not answer.
    """
    progress = Progress()
    opened = None  # the window runs from the first event: connecting through a busy proxy is not reading
    launch_deadline = None
    try:
        response = _open(url, CONNECT_SECONDS, cafile)
        _read_timeout(response, timings.idle)
    except urllib.error.HTTPError as error:
        raise LaunchNotReady("build", f"{url} answered HTTP {error.code}") from None
    except (urllib.error.URLError, OSError) as error:
        raise LaunchNotReady("build", f"{url} is not reachable: {getattr(error, 'reason', error)}") from None
    with response:
        events = _events(response, timings.idle, progress)
        for event in events:
            if opened is None:
                opened = clock()
            if event is not KEEPALIVE:
                progress.saw(event)
                if progress.phase == "failed":
                    raise LaunchFailed(progress.failed_in, _cause(progress))
                if progress.phase == "ready":
                    server = {k: event.get(k) for k in ("url", "token", "image")}
                    if _ends_within(response, events, timings.end_wait):
                        raise LaunchFailed("build", _BUFFERED, server)
                    progress.server = server
                    return progress
                if progress.phase in LAUNCH_PHASES and launch_deadline is None:
                    launch_deadline = clock() + timings.launch
            if launch_deadline is not None:
                if clock() > launch_deadline:
                    raise LaunchFailed("schedule", f"no server {timings.launch:g} s after the launch began: "
                                                   f"{_cause(progress)}")
            elif (first_read and progress.events) or clock() - opened > timings.window:
                return progress
    if launch_deadline is not None:
        raise LaunchFailed("schedule", f"the event stream ended during the launch: {_cause(progress)}")
    return progress  # BinderHub ended the stream while building: the next read attaches again


_BUFFERED = ("BinderHub's event stream arrived held back: its ready event came with the end of the stream, which "
             "BinderHub keeps open 60 s after ready. A proxy in front of BinderHub buffers the stream (F5 NGINX: "
             "nginx.org/proxy-buffering must be \"false\" on BinderHub's Ingress).")


def _open(url: str, timeout: float, cafile: str | None):
    """GET the stream with default verification (``cafile``: trust only those roots) and the standard proxy
    settings; ``timeout`` bounds connecting and the answer's headers."""
    context = ssl.create_default_context(cafile=cafile)
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))
    request = urllib.request.Request(url, headers={"Accept": "text/event-stream", "Cache-Control": "no-cache"})
    return opener.open(request, timeout=timeout)


def _events(response, idle: float, progress: Progress) -> Iterator[object]:
    """The stream's events (dicts) and keepalives, as the EventSource format defines them
    (html.spec.whatwg.org, "Server-sent events": ``data:`` lines up to a blank line; ``:`` starts a comment)."""
    data: list[str] = []
    while True:
        try:
            raw = response.readline()
        except (TimeoutError, socket.timeout):
            raise LaunchFailed(progress.check_phase,
                               f"BinderHub's event stream sent nothing for {idle:g} s, although BinderHub writes "
                               f"at least every 25 s: a proxy in front of it holds the stream back (F5 NGINX: "
                               f"nginx.org/proxy-buffering must be \"false\" on BinderHub's Ingress). Last "
                               f"message: {progress.last_message}") from None
        if not raw:
            return
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if line.startswith(":"):
            yield KEEPALIVE
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif not line and data:
            try:
                event = json.loads("\n".join(data))
            except ValueError:
                event = {"message": "\n".join(data)}
            data = []
            if isinstance(event, dict):
                yield event


def _socket(response):
    """The connection's socket under http.client's SocketIO (None if there is none)."""
    return getattr(getattr(response.fp, "raw", None), "_sock", None)


def _read_timeout(response, seconds: float) -> None:
    sock = _socket(response)
    if sock is not None:
        sock.settimeout(seconds)


def _ends_within(response, events: Iterator[object], seconds: float) -> bool:
    """Whether the stream ends within ``seconds`` (keepalives read on the way): it was held back until its end."""
    sock = _socket(response)
    if sock is None:
        return False
    deadline = time.monotonic() + seconds
    try:
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            if next(events, None) is None:
                return True
    except (TimeoutError, socket.timeout, LaunchFailed):
        return False
    return False


def _cause(progress: Progress) -> str:
    """The stream's last messages, and the last warning of the launch when it is not among them: JupyterHub's final
    "Spawn failed" says no more than that (a bare TimeoutError), the scheduler's reason came before."""
    said = [*progress.messages, *([progress.warning] if progress.warning not in progress.messages else [])]
    return " / ".join(m for m in said if m) or "BinderHub reported a failure without a message"
