"""Run one cell on a Jupyter server as a notebook does: a kernel through the REST API, the cell over its WebSocket.

What a server launched by BinderHub offers at its ``url`` (``/user/<name>/`` on the hub's public name), with
the ``token`` of BinderHub's ready event (``Authorization: token ...``), as jupyter_server serves it:
``POST api/kernels`` starts a kernel, ``GET api/kernels/<id>/channels?session_id=...`` is its WebSocket, which
speaks the Jupyter messaging protocol (jupyter_client ``messaging.rst``, version 5.3): an ``execute_request``
on the shell channel, answered by ``status``/``execute_input``/``stream``/``execute_result``/``error`` on
iopub and an ``execute_reply`` on shell, each with the request's header as ``parent_header``.

jupyter_server keeps the messages of a session while no client is connected and replays them when a
client of the same ``session_id`` comes back (``services/kernels/connection/channels.py``), so the cell is
sent by one call and its output collected by later ones: each call is short.
"""
from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from chalicelib.binder_stream import LaunchFailed
from chalicelib.errors import CourseHubError

PROTOCOL_VERSION = "5.3"
OUTPUT_TYPES = ("stream", "execute_result", "display_data", "error")


class KernelNotReady(CourseHubError):
    """The kernel has not started yet (retry later)."""


class CellNotFinished(CourseHubError):
    """The cell has not finished running yet (retry later)."""


def _context(cafile: str | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cafile)


def _api(server_url: str, token: str, method: str, path: str, timeout: float, cafile: str | None,
         body: dict | None = None) -> tuple[int, Any]:
    """One REST call to the server; (status, JSON body or None). HTTP errors come back as their status."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server_url.rstrip("/") + "/" + path, data=data, method=method,
                                     headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=_context(cafile)))
    try:
        with opener.open(request, timeout=timeout) as response:
            raw, status = response.read(65536), response.status
    except urllib.error.HTTPError as error:
        return error.code, None
    except (urllib.error.URLError, OSError) as error:
        raise LaunchFailed("connect", f"{server_url} is not reachable: {getattr(error, 'reason', error)}") from None
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def start_kernel(server_url: str, token: str, timeout: float, cafile: str | None = None) -> dict:
    """Start a kernel on the server; its model (``id``, ``execution_state``). LaunchFailed (connect) if refused."""
    status, model = _api(server_url, token, "POST", "api/kernels", timeout, cafile, body={})
    if status != 201 or not isinstance(model, dict) or "id" not in model:
        raise LaunchFailed("connect", f"starting a kernel at {server_url} answered HTTP {status}")
    return {"id": model["id"], "execution_state": model.get("execution_state")}


def channels_url(server_url: str, kernel_id: str, session_id: str) -> str:
    parts = urlsplit(server_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}/api/kernels/{kernel_id}/channels?session_id={session_id}"


def message(msg_type: str, content: dict, session_id: str) -> dict:
    """A message for the shell channel (messaging.rst, "General Message Format")."""
    return {"header": {"msg_id": uuid.uuid4().hex, "username": "coursehub", "session": session_id,
                       "date": datetime.now(timezone.utc).isoformat(), "msg_type": msg_type,
                       "version": PROTOCOL_VERSION},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [], "content": content}


def execute_request(code: str, session_id: str) -> dict:
    """An ``execute_request`` (messaging.rst, "Execute")."""
    return message("execute_request", {"code": code, "silent": False, "store_history": False,
                                       "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
                   session_id)


def _connect(server_url: str, token: str, kernel_id: str, session_id: str, timeout: float, cafile: str | None):
    """The kernel's WebSocket; LaunchFailed (connect) when the handshake is refused."""
    import websocket  # websocket-client, only where a kernel is reached

    try:
        return websocket.create_connection(
            channels_url(server_url, kernel_id, session_id), timeout=timeout,
            header=[f"Authorization: token {token}"], sslopt={"context": _context(cafile)})
    except websocket.WebSocketBadStatusException as error:
        body = (error.resp_body or b"")[:200]
        body = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        hint = (" The ingress did not pass the WebSocket upgrade on (F5 NGINX: nginx.org/websocket-services must "
                "name the JupyterHub proxy's Service)." if error.status_code == 400 else "")
        raise LaunchFailed("connect", f"the kernel's WebSocket was refused with HTTP {error.status_code} "
                                      f"{body.strip()}.{hint}") from None
    except (websocket.WebSocketException, OSError) as error:
        raise LaunchFailed("connect", f"the kernel's WebSocket did not open: {error}") from None


def send_cell(server_url: str, token: str, kernel_id: str, session_id: str, code: str, timeout: float,
              listen: float, cafile: str | None = None) -> dict:
    """Ask the kernel for its info, as a notebook does on connecting (KernelNotReady if it does not answer within
    ``listen`` seconds); then send ``code`` as an execute_request and collect what answers within ``listen``.

    Returns the request's ``msg_id`` and the messages seen (``collected``)."""
    info = message("kernel_info_request", {}, session_id)
    request = execute_request(code, session_id)
    ws = _connect(server_url, token, kernel_id, session_id, timeout, cafile)
    try:
        ws.send(json.dumps(info))
        if not any(m["msg_type"] == "kernel_info_reply" for m in _read(ws, info["header"]["msg_id"], listen,
                                                                        until="kernel_info_reply")):
            raise KernelNotReady(f"connect: kernel {kernel_id} did not answer kernel_info within {listen:g} s")
        ws.send(json.dumps(request))
        collected = _read(ws, request["header"]["msg_id"], listen)
    finally:
        ws.close()
    return {"msg_id": request["header"]["msg_id"], "collected": collected}


def collect(server_url: str, token: str, kernel_id: str, session_id: str, msg_id: str, timeout: float,
            listen: float, cafile: str | None = None) -> list[dict]:
    """Reconnect as the same session and read the replayed and new messages answering ``msg_id``."""
    ws = _connect(server_url, token, kernel_id, session_id, timeout, cafile)
    try:
        return _read(ws, msg_id, listen)
    finally:
        ws.close()


def _read(ws, msg_id: str, listen: float, until: str = "execute_reply") -> list[dict]:
    """The messages answering ``msg_id`` that arrive within ``listen`` seconds, up to the reply ``until``."""
    import websocket

    found: list[dict] = []
    deadline = time.monotonic() + listen
    while (left := deadline - time.monotonic()) > 0:
        ws.settimeout(left)
        try:
            raw = ws.recv()
        except websocket.WebSocketTimeoutException:
            break
        except (websocket.WebSocketConnectionClosedException, OSError):
            break
        try:
            received = json.loads(raw)
        except (TypeError, ValueError):
            continue  # a binary frame of the v1 protocol, which this client does not ask for
        if not isinstance(received, dict) or (received.get("parent_header") or {}).get("msg_id") != msg_id:
            continue
        found.append(_essentials(received))
        if found[-1]["msg_type"] == until:
            break
    return found


def _essentials(message: dict) -> dict:
    """What the check keeps of a message: its type, channel, time and the output's text."""
    header = message.get("header") or {}
    content = message.get("content") or {}
    kept = {"msg_type": header.get("msg_type") or message.get("msg_type"), "channel": message.get("channel"),
            "date": str(header.get("date") or "")}
    if kept["msg_type"] == "stream":
        kept["text"] = str(content.get("text", ""))[:2000]
    elif kept["msg_type"] in ("execute_result", "display_data"):
        kept["text"] = str((content.get("data") or {}).get("text/plain", ""))[:2000]
    elif kept["msg_type"] == "error":
        kept["text"] = f"{content.get('ename')}: {content.get('evalue')}"[:2000]
    elif kept["msg_type"] == "execute_reply":
        kept["status"] = content.get("status")
        if content.get("status") == "error":
            kept["text"] = f"{content.get('ename')}: {content.get('evalue')}"[:2000]
    elif kept["msg_type"] == "status":
        kept["execution_state"] = content.get("execution_state")
    return kept


def outcome(messages: list[dict]) -> dict | None:
    """The cell's result once its execute_reply has come: status, output text; None before."""
    replies = [m for m in messages if m["msg_type"] == "execute_reply"]
    if not replies:
        return None
    outputs = [m for m in messages if m["msg_type"] in OUTPUT_TYPES]
    return {"status": replies[-1].get("status"), "output": "".join(m.get("text", "") for m in outputs)[:2000],
            "error": next((m["text"] for m in outputs if m["msg_type"] == "error"), replies[-1].get("text"))}


def stop(server_url: str, token: str, kernel_id: str | None, timeout: float, cafile: str | None = None) -> str:
    """Shut the kernel and the server down (jupyter_server ``DELETE api/kernels/<id>``, ``POST api/shutdown``).

    What is already gone counts as stopped."""
    said = []
    if kernel_id:
        status, _ = _api(server_url, token, "DELETE", f"api/kernels/{kernel_id}", timeout, cafile)
        said.append(f"kernel: HTTP {status}")
    status, _ = _api(server_url, token, "POST", "api/shutdown", timeout, cafile)
    said.append(f"server: HTTP {status}")
    return ", ".join(said)
