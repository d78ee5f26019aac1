"""A Python kernel of a single-user Jupyter server: the messaging protocol, cells run for real, and offline buffering.

Messages follow the Jupyter messaging protocol 5.3 (jupyter_client ``docs/messaging.rst``): a header with
``msg_id``, ``session``, ``username``, ``date`` (ISO 8601, on the stack's clock), ``msg_type`` and
``version``; ``parent_header`` is the request's header. An ``execute_request`` on ``shell`` gets, on
``iopub``, ``status`` busy, ``execute_input``, ``stream`` (stdout/stderr), ``execute_result`` or
``error``, then ``execute_reply`` on ``shell`` and ``status`` idle (ipykernel's ``dispatch_shell``
publishes idle after the handler has replied). ``kernel_info_request`` (shell or control) is answered
with ``kernel_info_reply``. Other message types are ignored, as ipykernel logs and drops unknown ones.

A cell runs in ``sys.executable -I`` with a short timeout: stdout and stderr become ``stream`` messages,
an exception becomes ``error`` (ename, evalue, traceback), the value of a last expression statement
becomes ``execute_result`` (``text/plain`` is its repr), as IPython's ``displayhook`` does. Each cell
runs in a fresh process, so names do not carry over between cells (a real kernel keeps them). A cell
still running after ``CELL_TIMEOUT`` real seconds is killed and answered as an interrupted one
(``KeyboardInterrupt``).

Connections and buffering are jupyter_server's (``services/kernels/connection/channels.py`` and
``kernelmanager.py``): a connection's session key is ``<kernel_id>:<session_id>``; when the last
connection of a kernel closes, what the kernel sends afterwards is buffered for that session key
(``start_buffering``); a new connection with the same key gets the buffer replayed (``get_buffer``),
one with another key discards it (``stop_buffering``).
"""
from __future__ import annotations

import json
import os
import platform
import queue
import subprocess
import sys
import threading
import uuid
from datetime import datetime, timezone
from typing import Callable

PROTOCOL_VERSION = "5.3"
USERNAME = "jovyan"  # jupyter_client Session.username is $USER: repo2docker images run as jovyan
CELL_TIMEOUT = 20.0  # real seconds
# Runs the cell read from stdin; writes what IPython would display (result or error) as JSON on fd argv[1].
_RUNNER = r"""
import ast, json, os, sys, traceback
out = os.fdopen(int(sys.argv[1]), "w")
code = sys.stdin.read()
namespace = {"__name__": "__main__"}
try:
    tree = ast.parse(code, "<cell>", "exec")
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, "<cell>", "exec"), namespace)
    value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace) if last else None
    json.dump({"result": None if value is None else repr(value)}, out)
except BaseException as error:
    sys.stdout.flush()
    json.dump({"ename": type(error).__name__, "evalue": str(error),
               "traceback": traceback.format_exception(type(error), error, error.__traceback__)}, out)
"""


class Kernel:
    """One kernel: its model, its execution count, its open connections and the offline buffer."""

    def __init__(self, clock_now: Callable[[], datetime], name: str = "python3"):
        self.id, self.name, self.now = str(uuid.uuid4()), name, clock_now
        self.session = str(uuid.uuid4())  # the kernel's own Session id, in the header of what it sends
        self.execution_state, self.last_activity = "starting", clock_now()
        self.execution_count = 0
        self.connections: dict[str, list] = {}  # session key -> open connections (send, close)
        self.buffer: tuple[str, list] | None = None  # (session key, [(channel, message)])
        self.lock = threading.RLock()
        self.alive = True
        self._queue: queue.Queue = queue.Queue()
        self._worker: threading.Thread | None = None

    def model(self) -> dict:
        """jupyter_server's ``kernel_model``."""
        with self.lock:
            return {"id": self.id, "name": self.name, "last_activity": iso(self.last_activity),
                    "execution_state": self.execution_state,
                    "connections": sum(len(c) for c in self.connections.values())}

    # -- connections ------------------------------------------------------------------
    def connect(self, session_id: str, connection) -> list:
        """Register a connection (``send(message)``, ``close()``); the buffered messages to replay to it."""
        key = f"{self.id}:{session_id}"
        with self.lock:
            self.connections.setdefault(key, []).append(connection)
            replay = []
            if self.buffer is not None:
                if self.buffer[0] == key:
                    replay = self.buffer[1]
                self.buffer = None  # get_buffer: another session's buffer is discarded
            return replay

    def disconnect(self, session_id: str, connection) -> None:
        """The connection closed: if it was the last one, buffer for its session (start_buffering)."""
        key = f"{self.id}:{session_id}"
        with self.lock:
            if connection in self.connections.get(key, []):
                self.connections[key].remove(connection)
                if not self.connections[key]:
                    del self.connections[key]
            if not self.connections and self.alive:
                self.buffer = (key, [])

    def _emit(self, channel: str, message: dict, session_key: str) -> None:
        """iopub goes to every connection; a shell reply to the requester's session (ZMQ routes by identity)."""
        message = dict(message, channel=channel)
        with self.lock:
            self.last_activity = self.now()  # jupyter_server records activity on every message from the kernel
            if message["msg_type"] == "status":
                self.execution_state = message["content"]["execution_state"]
            targets = [c for k, connections in self.connections.items() for c in connections
                       if channel == "iopub" or k == session_key]
            if not self.connections and self.buffer is not None and (channel == "iopub" or
                                                                    self.buffer[0] == session_key):
                self.buffer[1].append(message)
        for connection in targets:
            try:
                connection.send(message)
            except OSError:
                pass  # that client is gone; its connection's reader notices and disconnects

    # -- messages from clients ------------------------------------------------------------
    def handle(self, channel: str, request: dict, session_id: str) -> None:
        """A message a client sent on ``channel``: answer it as ipykernel would."""
        header = request.get("header") or {}
        msg_type = header.get("msg_type")
        key = f"{self.id}:{session_id}"
        with self.lock:
            self.last_activity = self.now()
        if msg_type == "kernel_info_request" and channel in ("shell", "control"):
            self._emit("iopub", self.message("status", {"execution_state": "busy"}, header), key)
            self._emit(channel, self.message("kernel_info_reply", kernel_info(), header), key)
            self._emit("iopub", self.message("status", {"execution_state": "idle"}, header), key)
        elif msg_type == "execute_request" and channel == "shell":
            code = (request.get("content") or {}).get("code", "")
            with self.lock:  # one cell at a time, in the order they came (ipykernel's shell queue)
                if self._worker is None:
                    self._worker = threading.Thread(target=self._run_queue, daemon=True, name=f"kernel-{self.id[:8]}")
                    self._worker.start()
            self._queue.put((code, header, key))

    def _run_queue(self) -> None:
        while self.alive:
            try:
                cell = self._queue.get(timeout=1)
            except queue.Empty:
                continue
            if self.alive:
                self._execute(*cell)

    def _execute(self, code: str, parent: dict, key: str) -> None:
        with self.lock:
            self.execution_count += 1
            count = self.execution_count
        emit = self._emit
        emit("iopub", self.message("status", {"execution_state": "busy"}, parent), key)
        emit("iopub", self.message("execute_input", {"code": code, "execution_count": count}, parent), key)
        stdout, stderr, outcome = run_cell(code)
        for name, text in (("stdout", stdout), ("stderr", stderr)):
            if text:
                emit("iopub", self.message("stream", {"name": name, "text": text}, parent), key)
        if "ename" in outcome:
            error = {k: outcome[k] for k in ("ename", "evalue", "traceback")}
            emit("iopub", self.message("error", error, parent), key)
            reply = dict(error, status="error", execution_count=count)
        else:
            if outcome.get("result") is not None:
                emit("iopub", self.message("execute_result", {
                    "execution_count": count, "data": {"text/plain": outcome["result"]}, "metadata": {}}, parent), key)
            reply = {"status": "ok", "execution_count": count, "user_expressions": {}, "payload": []}
        emit("shell", self.message("execute_reply", reply, parent), key)
        emit("iopub", self.message("status", {"execution_state": "idle"}, parent), key)

    def message(self, msg_type: str, content: dict, parent: dict) -> dict:
        """A message as jupyter_server relays it in the legacy JSON protocol (Session.deserialize's keys)."""
        header = {"msg_id": str(uuid.uuid4()), "msg_type": msg_type, "username": USERNAME,
                  "session": self.session, "date": iso(self.now()), "version": PROTOCOL_VERSION}
        return {"header": header, "msg_id": header["msg_id"], "msg_type": msg_type, "parent_header": parent,
                "metadata": {}, "content": content, "buffers": []}

    def shut_down(self) -> None:
        """The kernel is gone: nothing is buffered any more and its WebSockets close."""
        with self.lock:
            self.alive, self.buffer, self.execution_state = False, None, "dead"
            connections = [c for group in self.connections.values() for c in group]
        for connection in connections:
            connection.close()


def kernel_info() -> dict:
    """ipykernel's kernel_info_reply content for a Python kernel."""
    return {"status": "ok", "protocol_version": PROTOCOL_VERSION, "implementation": "ipython",
            "implementation_version": "8.0.0",
            "language_info": {"name": "python", "version": platform.python_version(), "mimetype": "text/x-python",
                              "file_extension": ".py", "pygments_lexer": "ipython3",
                              "codemirror_mode": {"name": "ipython", "version": 3}, "nbconvert_exporter": "python"},
            "banner": f"Python {platform.python_version()}", "help_links": []}


def run_cell(code: str, timeout: float = CELL_TIMEOUT) -> tuple[str, str, dict]:
    """Run ``code`` in an isolated interpreter: (stdout, stderr, {"result"} or {"ename", "evalue", "traceback"})."""
    read_end, write_end = os.pipe()
    try:
        process = subprocess.Popen([sys.executable, "-I", "-c", _RUNNER, str(write_end)], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(write_end,), text=True)
    finally:
        os.close(write_end)
    with os.fdopen(read_end) as results:
        try:
            stdout, stderr = process.communicate(code, timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            return stdout, stderr, {"ename": "KeyboardInterrupt", "evalue": "", "traceback": []}
        written = results.read()
    return stdout, stderr, json.loads(written) if written else {
        "ename": "DeadKernelError", "evalue": f"the cell's process exited with {process.returncode}", "traceback": []}


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with ``Z``, as jupyter_server's ``isoformat`` and jupyter_client's ``json_default`` write it."""
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
