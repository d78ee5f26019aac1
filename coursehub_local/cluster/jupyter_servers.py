"""What JupyterHub's proxy (``proxy-public``) answers under ``/user/<name>/``: the user's server, or the hub.

A user's server exists while the cluster holds its pod as kubespawner makes it (labels ``app=jupyterhub``,
``component=singleuser-server``, ``release``, ``hub.jupyter.org/username``; BinderSpawnerMixin.get_args
puts ``--NotebookApp.token=<token>`` and ``--ServerApp.token=<token>`` in its args).

Routing (configurable-http-proxy with JupyterHub 5.3's routes):

- the hub adds the route ``/user/<name>/`` once the spawner's pod is Running and Ready, and removes it
  when it stops the spawner. Without a route CHP sends the request to the hub, whose
  ``PrefixRedirectHandler`` (jupyterhub/handlers/base.py, ``get`` only) redirects a GET with 302 to
  ``/hub/user/<name>/...`` and, having no other method, answers the rest 405 (tornado's default);
- at ``/hub/user/<name>/...`` ``UserUrlHandler``: a non-GET is ``_fail_api_request``, 424 with a JSON
  message (503 only with ``use_legacy_stopped_server_status_code``); a GET is ``@web.authenticated`` and the
  server's token is not a hub token, so it is a 302 to ``/hub/login?next=<uri>`` (tornado's redirect);
- while a route exists but the server's process has exited (before the hub's poll, every
  ``Spawner.poll_interval`` = 30 s, notices and stops the spawner), CHP fails to reach it and shows the
  hub's ``ProxyErrorHandler`` page with 503 "Your server appears to be down." (``--error-target``).

The server (jupyter_server 2.x with a token, as BinderHub runs it without authentication):

- identity: ``Authorization: token <t>`` (or ``bearer``) or ``?token=<t>`` must be the pod's token;
  otherwise an API handler answers 403 ``{"message": "Forbidden", "reason": null}``
  (``APIHandler.get_login_url``/``write_error``) and the kernel WebSocket 403 with the HTML error page
  (``WebSocketMixin.prepare(_redirect_to_login=False)``, ``ws_authenticated``);
- ``services/kernels/handlers.py``: ``POST /api/kernels`` 201 with ``Location`` and the kernel model,
  ``GET``/``DELETE /api/kernels/<id>`` (204), ids matching ``\\w+-\\w+-\\w+-\\w+-\\w+``; an unknown id is
  ``_check_kernel_id``'s 404 "Kernel does not exist: <id>";
- ``services/kernels/websocket.py`` ``KernelWebsocketHandler.get``: authentication, then the kernel
  lookup (404), then tornado's ``WebSocketHandler.get`` checks (``websocket_upgrade``). The stand-in
  speaks the legacy JSON protocol only (no ``Sec-WebSocket-Protocol`` selected, as with
  ``kernel_ws_protocol=""``);
- ``services/shutdown.py``: ``POST /api/shutdown`` shuts the kernels down and stops the server's IOLoop:
  the process exits 0, and since kubespawner's pods have ``restartPolicy: OnFailure`` the pod ends
  ``Succeeded`` (container terminated, reason Completed). The hub's next poll sees the exit code,
  stops the spawner (kubespawner deletes the pod) and removes the route.
"""
from __future__ import annotations

import json
import re
import socket
import threading
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode

from coursehub_local.cluster.jupyter_kernels import Kernel, iso
from coursehub_local.cluster.websocket_upgrade import serve_connection, upgrade
from coursehub_local.kube.errors import ApiError

if TYPE_CHECKING:
    from coursehub_local.cluster.stand_in_backends import Request, Response

SERVER_LABELS = {"app": "jupyterhub", "component": "singleuser-server"}
USERNAME = "hub.jupyter.org/username"
USER_PATH = re.compile(r"^/user/(?P<name>[^/]+)(?P<rest>/.*)?$")
HUB_USER_PATH = re.compile(r"^/hub/user/(?P<name>[^/]+)(?P<rest>/.*)?$")
KERNEL_ID = r"(?P<kernel>\w+-\w+-\w+-\w+-\w+)"
KERNELS, KERNEL = re.compile(r"^/api/kernels/?$"), re.compile(rf"^/api/kernels/{KERNEL_ID}$")
CHANNELS = re.compile(rf"^/api/kernels/{KERNEL_ID}/channels$")
CONTENTS = re.compile(r"^/api/contents/(?P<path>.+)$")
TOKEN_HEADER = re.compile(r"(token|bearer)\s+(.+)", re.IGNORECASE)  # jupyter_server IdentityProvider
HUB_POLL_INTERVAL = 30  # JupyterHub Spawner.poll_interval default, seconds
JSON = "application/json"

_servers: dict[str, "JupyterServer"] = {}  # by pod uid: a new pod is a new server with no kernels
_servers_lock = threading.Lock()


def user_request(store, namespace: str, release: str, request: "Request", hub: bool) -> "Response | None":
    """``/user/<name>/...`` through the proxy; None when the hub would have to answer but is not ready."""
    path = request.path.split("?", 1)[0]
    name, rest = USER_PATH.match(path).group("name", "rest")
    pod = server_pod(store, namespace, release, name)
    if pod is not None and _running(pod):
        return _server(pod, request).handle(name, rest or "/", request, store)
    if pod is not None and pod["status"].get("phase") in ("Succeeded", "Failed"):
        return _page(503, "Service Unavailable", "Your server appears to be down. Try restarting it "
                     "<a href='/hub/home'>from the hub</a>")  # the route is still there: CHP's error target
    if not hub:
        return None
    if request.method != "GET":
        return _page(405, "Method Not Allowed")
    return _response(302, b"", "text/html; charset=UTF-8", Location=f"/hub{request.path}")


def hub_user_request(request: "Request") -> "Response":
    """The hub's ``UserUrlHandler`` for ``/hub/user/<name>/...``: the route is gone or the URL was typed."""
    path = request.path.split("?", 1)[0]
    name = HUB_USER_PATH.match(path).group("name")
    if request.method != "GET":
        host = request.headers.get("host", "")
        body = {"message": f"JupyterHub server no longer running at {path[len('/hub/') - 1:]}."
                           f" Restart the server at https://{host}/hub/spawn/{name}"}
        return _response(424, json.dumps(body).encode(), JSON)
    return _response(302, b"", "text/html; charset=UTF-8", Location="/hub/login?" + urlencode({"next": request.path}))


def server_pod(store, namespace: str, release: str, name: str) -> dict | None:
    """The user's server pod as kubespawner labels it, if the cluster holds one."""
    pods = store.list(store.resource_type("v1", "Pod"), namespace)[0]
    for pod in pods:
        meta = pod["metadata"]
        labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
        if all(labels.get(k) == v for k, v in dict(SERVER_LABELS, release=release).items()) \
                and name in (annotations.get(USERNAME), labels.get(USERNAME)):
            return pod
    return None


def pod_token(pod: dict) -> str | None:
    """The token BinderSpawnerMixin.get_args gave the notebook server."""
    for container in pod["spec"].get("containers", []):
        for arg in container.get("args") or []:
            for option in ("--NotebookApp.token=", "--ServerApp.token="):
                if arg.startswith(option):
                    return arg[len(option):]
    return None


def _running(pod: dict) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp") and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def _server(pod: dict, request: "Request") -> "JupyterServer":
    with _servers_lock:
        uid = pod["metadata"]["uid"]
        if uid not in _servers:
            _servers[uid] = JupyterServer(pod, request.cluster)
        return _servers[uid]


class JupyterServer:
    """One user's jupyter_server process: its kernels, reached with its token."""

    def __init__(self, pod: dict, cluster):
        self.pod_key = (pod["metadata"]["namespace"], pod["metadata"]["name"], pod["metadata"]["uid"])
        self.token, self.cluster = pod_token(pod), cluster
        self.kernels: dict[str, Kernel] = {}
        self.lock = threading.Lock()

    def now(self) -> datetime:
        clock = getattr(self.cluster, "clock", None)
        return clock.now() if clock else datetime.now(timezone.utc)

    def handle(self, name: str, rest: str, request: "Request", store) -> "Response":
        """Route one request as the server's tornado application (base_url ``/user/<name>/``) does."""
        channels = CHANNELS.match(rest)
        if not self.authenticated(request):
            if channels:
                return _page(403, "Forbidden")
            return _api_error(403, "Forbidden")
        if channels:
            kernel = self.kernels.get(channels.group("kernel"))
            if kernel is None:
                return _page(404, "Not Found", f"Kernel does not exist: {channels.group('kernel')}")
            return self.connect(kernel, request)
        if KERNELS.match(rest) and request.method == "POST":
            try:  # JupyterHandler.get_json_body
                model = json.loads(request.body.strip().decode("utf-8")) if request.body.strip() else {}
            except ValueError:
                return _api_error(400, "Invalid JSON in body of request")
            if not isinstance(model, dict) or (model.get("name") or "python3") != "python3":
                return _response(500, json.dumps({"message": "Unhandled error", "reason": None,
                                                  "traceback": ""}).encode(), JSON)  # e.g. NoSuchKernel, uncaught
            kernel = Kernel(self.now)
            with self.lock:
                self.kernels[kernel.id] = kernel
            return _response(201, json.dumps(kernel.model()).encode(), JSON,
                             Location=f"/user/{name}/api/kernels/{kernel.id}")
        if KERNELS.match(rest) and request.method == "GET":
            return _response(200, json.dumps([k.model() for k in self.kernels.values()]).encode(), JSON)
        match = KERNEL.match(rest)
        if match and request.method in ("GET", "DELETE"):
            kernel = self.kernels.get(match.group("kernel"))
            if kernel is None:
                return _api_error(404, f"Kernel does not exist: {match.group('kernel')}")
            if request.method == "GET":
                return _response(200, json.dumps(kernel.model()).encode(), JSON)
            self.stop_kernel(kernel)
            return _response(204, b"", JSON)
        if rest == "/api/shutdown" and request.method == "POST":
            self.shut_down(store)
            return _response(200, b"", "text/html; charset=UTF-8")
        contents = CONTENTS.match(rest)
        if contents and request.method == "PUT":  # ContentsHandler.put saves the whole file
            model = {"name": contents.group("path").rsplit("/", 1)[-1], "path": contents.group("path"),
                     "type": "notebook", "format": None, "size": len(request.body), "writable": True,
                     "content": None, "last_modified": iso(self.now())}
            return _response(200, json.dumps(model).encode(), JSON)
        return _page(404, "Not Found")

    def authenticated(self, request: "Request") -> bool:
        header = TOKEN_HEADER.match(request.headers.get("authorization", ""))
        query = parse_qs(request.path.split("?", 1)[1]) if "?" in request.path else {}
        given = header.group(2).strip() if header else (query.get("token") or [None])[0]
        return bool(self.token) and given == self.token

    def connect(self, kernel: Kernel, request: "Request") -> "Response":
        """tornado's handshake checks, then a connection served on its own thread behind a socket pair."""
        response, accepted = upgrade(request.headers)
        if not accepted:
            return response
        query = parse_qs(request.path.split("?", 1)[1]) if "?" in request.path else {}
        # without one jupyter_server logs "No session ID specified" and the connection keeps its Session's random id
        session_id = (query.get("session_id") or [uuid.uuid4().hex])[0]
        ours, theirs = socket.socketpair()
        threading.Thread(target=serve_connection, args=(ours, kernel, session_id), daemon=True,
                         name=f"kernel-ws-{kernel.id[:8]}").start()
        response.upstream = theirs
        return response

    def stop_kernel(self, kernel: Kernel) -> None:
        with self.lock:
            self.kernels.pop(kernel.id, None)
        kernel.shut_down()

    def shut_down(self, store) -> None:
        """The server's process exits 0: the pod ends Succeeded; the hub's poll then deletes it."""
        for kernel in list(self.kernels.values()):
            self.stop_kernel(kernel)
        namespace, name, uid = self.pod_key
        try:
            pod = store.get_object("v1", "Pod", namespace, name)
        except ApiError:
            return
        finished = iso(self.now())
        containers = [{"name": c["name"], "ready": False, "restartCount": 0, "image": c.get("image", ""),
                       "state": {"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": finished}}}
                      for c in pod["spec"].get("containers", [])]
        store.set_status("v1", "Pod", namespace, name, dict(
            pod.get("status") or {}, phase="Succeeded", containerStatuses=containers,
            conditions=[{"type": "Ready", "status": "False", "reason": "PodCompleted"}]))
        with _servers_lock:
            _servers.pop(uid, None)

        def hub_polls() -> None:  # Spawner.poll sees exit code 0: the hub stops the spawner, kubespawner deletes
            try:
                store.delete(store.resource_type("v1", "Pod"), namespace, name, preconditions={"uid": uid})
            except ApiError:
                pass
        if self.cluster is not None:
            self.cluster.timeline.after(HUB_POLL_INTERVAL, hub_polls)
        else:
            hub_polls()


def _response(status: int, body: bytes, content_type: str, **headers: str) -> "Response":
    from coursehub_local.cluster.stand_in_backends import Response  # that module routes to this one
    return Response.of(status, body, content_type, **headers)


def _api_error(status: int, message: str) -> "Response":
    """APIHandler.write_error: JSON with the HTTPError's message and its (here always empty) reason."""
    return _response(status, json.dumps({"message": message, "reason": None}).encode(), JSON)


def _page(status: int, reason: str, message: str = "") -> "Response":
    """The HTML error page of jupyter_server and JupyterHub (templates/error.html): ``<status> : <reason>``."""
    detail = f"<p>The error was:</p><pre>{message}</pre>" if message else ""
    body = (f"<!DOCTYPE HTML>\n<html><body><div class=\"error\"><h1>{status} : {reason}</h1>{detail}</div>"
            "</body></html>\n")
    return _response(status, body.encode(), "text/html")
