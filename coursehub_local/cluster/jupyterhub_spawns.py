"""A user server as the hub's KubeSpawner starts it for BinderHub: the pod, its scheduling and the progress events.

Follows kubespawner (``spawner.py`` ``get_pod_manifest``/``_start``/``progress``, ``slugs.py``), JupyterHub 5.3
(``user.py`` ``spawn``: ``asyncio.wait_for(f, timeout=spawner.start_timeout)``, then ``stop`` on failure;
``apihandlers/users.py`` ``SpawnProgressAPIHandler``) and BinderHub's ``BinderSpawnerMixin.get_args``
(``binderspawner_mixin.py``, embedded in the BinderHub chart's values). The Jupyter server behind
``/user/<name>/`` reads this pod: its name, labels, the ``--NotebookApp.token`` argument, ``spec.nodeName`` and a
Running, Ready status.
"""
from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass, field
from datetime import datetime, timezone

from coursehub_local.cluster.node_resources import schedule_memory
from coursehub_local.kube.errors import ApiError

# kubespawner: slow_spawn_message, slow_spawn_message_threshold (60 s), slow_spawn_message_frequency (5 s)
SLOW_SPAWN_MESSAGE = ("Server launch is taking longer than expected. Please be patient! Current time spent waiting: "
                      "{seconds} seconds.")
SLOW_SPAWN_THRESHOLD, SLOW_SPAWN_FREQUENCY = 60, 5
# Simulated seconds from pod creation: bound, pulling, pulled (a repo2docker image of a few hundred MB),
# container started (Running and Ready: no readiness probe), and the hub's HTTP check of the server answered.
SCHEDULED, PULLING, PULLED, STARTED, ANSWERED = 1, 2, 20, 21, 25
NOTEBOOK_PORT = 8888  # z2jh singleuser default port


def safe_slug(name: str, max_length: int | None = None) -> str:
    """kubespawner ``slugs.safe_slug`` with ``is_valid_object_name``: the name itself when it is a valid DNS label
    without ``--``, else ``<safe part>---<8 hex of sha256>``."""
    valid = (re.fullmatch(r"[a-z0-9-]+", name) and name[:1] in string.ascii_lowercase and name[-1:].isalnum()
             and len(name) <= 63)
    if "--" not in name and valid and (max_length is None or len(name) <= max_length):
        return name
    length = (max_length or 32) - 11
    safe = re.sub(r"[^a-z0-9]+", "-", name.lower()).lstrip("-")[:length].rstrip("-")
    if safe and safe[0] not in string.ascii_lowercase:
        safe = "x-" + safe[:length - 2]
    return f"{safe or 'x'}---{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def pod_name(username: str) -> str:
    """kubespawner's ``pod_name_template`` ``jupyter-{user_server}`` for the default (unnamed) server."""
    return f"jupyter-{safe_slug(username, max_length=48)}"


def memory_bytes(spec) -> int | None:
    """JupyterHub's ``ByteSpecification`` (``mem_guarantee``): K, M, G, T are powers of 1024."""
    if spec in (None, ""):
        return None
    text = str(spec).strip()
    units = {"K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30, "T": 2 ** 40}
    return int(float(text[:-1]) * units[text[-1]]) if text[-1:] in units else int(float(text))


def timestamp(seconds: float) -> str:
    """An Event's ``lastTimestamp`` as the API gives it."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Spawn:
    """One start of a user's server: the progress events JupyterHub relays and how it ended."""

    username: str
    namespace: str
    pod: str
    events: list[tuple[float, dict]] = field(default_factory=list)  # (simulated time, progress event)
    ended: bool = False
    ready: bool = False


def start(store, schedule, hub, username: str, user_options: dict, now: float) -> Spawn:
    """Create the user's pod as KubeSpawner does and plan its start on the cluster's ``schedule``.

    The spawn runs on the hub, not in BinderHub's request: a closed event stream does not stop it.
    """
    name = pod_name(username)
    spawn = Spawn(username, hub.namespace, name, [(now, {"progress": 0, "message": "Server requested"})])
    request = memory_bytes(hub.memory_guarantee)
    node, message = schedule_memory(store, float(request or 0))
    store.put_object(_pod(hub, username, name, user_options, request, node, message, now))
    if node is None:
        # FailedScheduling, as kubespawner relays pod events: "<lastTimestamp> [<type>] <message>"
        _event(spawn, now, "Warning", message, 0)
        for seconds in range(SLOW_SPAWN_THRESHOLD, hub.start_timeout, SLOW_SPAWN_FREQUENCY):
            spawn.events.append((now + seconds, {"message": SLOW_SPAWN_MESSAGE.format(seconds=seconds)}))
        schedule.at(now + hub.start_timeout, lambda due: _timed_out(store, spawn, due))
        return spawn
    image = user_options["image"]
    steps = [(SCHEDULED, f"Successfully assigned {hub.namespace}/{name} to {node}"),
             (PULLING, f'Pulling image "{image}"'),
             (PULLED, f'Successfully pulled image "{image}" in {PULLED - PULLING}.2s '
                      f"({PULLED - PULLING}.2s including waiting). Image size: 612345678 bytes."),
             (STARTED, "Created container: notebook"), (STARTED, "Started container notebook")]
    for number, (delay, text) in enumerate(steps):
        _event(spawn, now + delay, "Normal", text, number)
    schedule.at(now + STARTED, lambda due: _running(store, hub.namespace, name, node, due))
    schedule.at(now + ANSWERED, lambda due: _ready(spawn, due))
    return spawn


def _event(spawn: Spawn, at: float, kind: str, message: str, number: int) -> None:
    # kubespawner progress(): each event moves the bar a third of the way to 90%
    progress = 0.0
    for _ in range(number + 1):
        progress += (90 - progress) / 3
    spawn.events.append((at, {"progress": int(progress), "message": f"{timestamp(at)} [{kind}] {message}"}))


def _ready(spawn: Spawn, due: float) -> None:
    url = f"/user/{spawn.username}/"
    spawn.events.append((due, {"progress": 100, "ready": True, "message": f"Server ready at {url}",
                               "html_message": f'Server ready at <a href="{url}">{url}</a>', "url": url}))
    spawn.ended = spawn.ready = True


def _timed_out(store, spawn: Spawn, due: float) -> None:
    """JupyterHub gives up after ``start_timeout`` (a bare TimeoutError, so ``format_exception`` adds nothing to
    "Spawn failed: ") and stops the server: KubeSpawner deletes the pod."""
    try:
        store.delete(store.resource_type("v1", "Pod"), spawn.namespace, spawn.pod)
    except ApiError:
        pass
    spawn.events.append((due, {"progress": 100, "failed": True, "message": "Spawn failed: "}))
    spawn.ended = True


def _running(store, namespace: str, name: str, node: str, due: float) -> None:
    started = timestamp(due)
    conditions = [{"type": kind, "status": "True", "lastTransitionTime": started}
                  for kind in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                               "PodScheduled")]
    digits = hashlib.sha256(name.encode()).digest()
    try:
        addresses = (store.get_object("v1", "Node", None, node).get("status") or {}).get("addresses") or []
    except ApiError:
        addresses = []
    host_ip = next((a["address"] for a in addresses if a.get("type") == "InternalIP"), "")
    try:
        pod = store.get_object("v1", "Pod", namespace, name)
        container = pod["spec"]["containers"][0]
        store.set_status("v1", "Pod", namespace, name, {
            "phase": "Running", "conditions": conditions, "hostIP": host_ip,
            "podIP": f"192.168.{digits[0]}.{digits[1]}",
            "startTime": pod["status"].get("startTime", started), "qosClass": pod["status"].get("qosClass"),
            "containerStatuses": [{"name": "notebook", "image": container["image"], "ready": True,
                                   "started": True, "restartCount": 0,
                                   "state": {"running": {"startedAt": started}}}]})
    except ApiError:
        pass  # deleted meanwhile


def _pod(hub, username: str, name: str, options: dict, request: int | None, node: str | None, unschedulable: str,
         now: float) -> dict:
    """kubespawner ``get_pod_manifest``: labels of ``_build_pod_labels`` plus z2jh's ``common_labels`` and
    ``extra_labels``; the container gets ``cmd`` + ``BinderSpawnerMixin.get_args()`` as its ``args``."""
    base_url = f"/user/{username}/"
    args = ["--ip=0.0.0.0", f"--port={NOTEBOOK_PORT}", f"--NotebookApp.base_url={base_url}",
            f"--NotebookApp.token={options['token']}", "--NotebookApp.trust_xheaders=True"]
    if hub.cors_allow_origin:
        args.append("--NotebookApp.allow_origin=" + hub.cors_allow_origin)
    if hub.cors_allow_origin == "*":
        args.append("--NotebookApp.allow_origin_pat=.*")
    args += [a.replace("--NotebookApp.", "--ServerApp.") for a in args if a.startswith("--NotebookApp.")]
    env = {"JUPYTERHUB_USER": username, "JUPYTERHUB_SERVICE_PREFIX": base_url, "JUPYTER_IMAGE": options["image"],
           "JUPYTER_IMAGE_SPEC": options["image"], "BINDER_REPO_URL": options["repo_url"],
           **{key.upper(): options[key] for key in ("binder_ref_url", "binder_launch_host",
                                                    "binder_persistent_request", "binder_request",
                                                    "binder_client_ip") if key in options}}
    resources = {"requests": {"memory": str(request)}} if request else {}
    scheduled = {"type": "PodScheduled", "status": "True", "lastTransitionTime": timestamp(now)} if node else \
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": unschedulable,
         "lastTransitionTime": timestamp(now)}
    spec = {"containers": [{"name": "notebook", "image": options["image"], "args": list(hub.singleuser_cmd) + args,
                            "ports": [{"name": "notebook-port", "containerPort": NOTEBOOK_PORT}],
                            "env": [{"name": k, "value": v} for k, v in env.items()], "resources": resources}],
            "restartPolicy": "OnFailure", "automountServiceAccountToken": False,
            "securityContext": {"fsGroup": 100}, "schedulerName": "default-scheduler"}
    if node:
        spec["nodeName"] = node
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": hub.namespace, "labels": {
            "app": "jupyterhub", "component": "singleuser-server", "release": hub.release,
            "chart": hub.chart, "heritage": "jupyterhub", "app.kubernetes.io/component": "singleuser-server",
            "app.kubernetes.io/managed-by": "kubespawner", "hub.jupyter.org/network-access-hub": "true",
            "hub.jupyter.org/servername": "", "hub.jupyter.org/username": safe_slug(username)},
            "annotations": {"hub.jupyter.org/username": username}},
        "spec": spec,
        "status": {"phase": "Pending", "conditions": [scheduled],
                   "qosClass": "Burstable" if request else "BestEffort",
                   **({"startTime": timestamp(now)} if node else {})},
    }
