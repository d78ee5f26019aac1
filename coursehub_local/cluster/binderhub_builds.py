"""BinderHub's build API, ``GET /build/<provider>/<spec>``: an EventSource stream driven by what the cluster holds.

Follows binderhub b9fad995: ``builder.py`` ``BuildHandler`` (events ``data: <json>\\n\\n``, ``:keepalive\\n\\n`` every
``KEEPALIVE_INTERVAL`` 25 s, ``content-type: text/event-stream``, ``cache-control: no-cache``, ``await
asyncio.sleep(60)`` before closing after ``ready``), ``build.py`` ``KubernetesBuildExecutor`` (one build pod per build
name: ``submit`` ignores a 409 so a second request re-attaches; ``stream_logs`` reads the pod log) and ``launcher.py``.
The chart's ``binder-secret`` (key ``values.yaml``) holds BinderHub's config; the JupyterHub subchart's Secret ``hub``
(key ``values.yaml``) the hub's. Builds and pushed images are kept per cluster, on the stack's clock (simulated
seconds), so a build goes on when its stream closes. Not simulated: GitHub (a ref resolves to a stable made-up
commit) and DockerHub (a push there needs only an auth entry for ``https://index.docker.io/v1/``).
"""
from __future__ import annotations

import base64
import hashlib
import heapq
import itertools
import json
import logging
import re
import threading
import uuid
import weakref
from dataclasses import dataclass, field
from typing import Iterator

from coursehub_local import ecr_push
from coursehub_local.cluster import jupyterhub_spawns
from coursehub_local.cluster.binderhub_config import Hub, builder_ready, push, read_hub
from coursehub_local.cluster.binderhub_names import (build_name, image_name, registry_of, resolve_ref,
                                                     unique_name_from_repo)

KEEPALIVE_INTERVAL = 25  # BuildHandler.KEEPALIVE_INTERVAL
CLOSE_DELAY = 60  # BuildHandler.get: asyncio.sleep(60) after the launch
BUILD_MAX_AGE, BUILD_CLEANUP_INTERVAL = 4 * 3600, 60  # KubernetesCleaner.max_age, BinderHub.build_cleanup_interval
LAUNCH_RETRIES, LAUNCH_RETRY_DELAY = 4, 4  # Launcher.retries, Launcher.retry_delay (doubled after each failure)
RUNNING, PUSH = 8, 100  # simulated seconds from build pod creation: repo2docker running, building done
log = logging.getLogger(__name__)
BUILD_PATH = re.compile(r"^/build/(?P<provider>[^/]+)/(?P<spec>.+)$")


# -- per-cluster state ----------------------------------------------------------------------------------------------
class Schedule:
    """Steps due at simulated times, run by whoever looks first: a stream, or a timer when none is looking."""

    def __init__(self, store, clock):
        self.store, self.clock = store, clock
        self.lock = threading.RLock()
        self._steps: list = []
        self._order = itertools.count()

    def at(self, due: float, step) -> None:
        with self.lock:
            heapq.heappush(self._steps, (due, next(self._order), step))
        self.store.call_later(self.clock.real_seconds(due - self.clock.time()) + 0.01, self.settle)

    def settle(self) -> None:
        with self.lock:
            while self._steps and self._steps[0][0] <= self.clock.time():
                due, _, step = heapq.heappop(self._steps)
                try:
                    step(due)
                except Exception:  # noqa: BLE001 - one broken step must not stop the cluster's others
                    log.exception("BinderHub stand-in step failed")


@dataclass
class Build:
    """One build pod: what its log and status say, and when."""

    name: str
    image: str
    entries: list[tuple[float, str, object]] = field(default_factory=list)  # (time, "status"|"log", payload)
    outcome: str = ""  # "", "built", "failed"


class ClusterState:
    """A cluster's builds (by namespace and build name), the images its builds pushed, its schedule."""

    def __init__(self, store, clock):
        self.schedule = Schedule(store, clock)
        self.builds: dict[tuple[str, str], Build] = {}
        self.pushed: set[str] = set()


_STATES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_STATES_LOCK = threading.Lock()


def state(store, clock) -> ClusterState:
    with _STATES_LOCK:
        if store not in _STATES:
            _STATES[store] = ClusterState(store, clock)
        return _STATES[store]


def image_found(cluster: ClusterState, image: str) -> bool:
    """BinderHub asks the registry for the image's manifest: ECR's images are the stack's, others this cluster's."""
    if ecr_push.REGISTRY_HOST.fullmatch(registry_of(image)):
        return ecr_push.image_pushed(image)
    return image in cluster.pushed


def build_log(repo_url: str, ref: str, image: str) -> list[tuple[float, str, str]]:
    """What repo2docker (``--json-logs``) prints while fetching and building: (seconds, phase, message)."""
    lines = [(9, "fetching", "Picked Git content provider.\n"),
             (10, "fetching", "Cloning into '/tmp/repo2docker3k2b1x7q'...\n"),
             (13, "fetching", f"HEAD is now at {ref[:7]} Update environment\n"),
             (15, "building", "Building conda environment for python=3.12\n"),
             (15, "building", "Using PythonBuildPack builder\n")]
    steps = ["FROM docker.io/library/buildpack-deps:jammy", "ENV DEBIAN_FRONTEND=noninteractive",
             "RUN apt-get -qq update && apt-get -qq install --yes --no-install-recommends less unzip > /dev/null",
             "RUN groupadd --gid ${NB_UID} ${NB_USER} && useradd --comment \"Default user\" --create-home "
             "--gid ${NB_UID} --no-log-init --shell /bin/bash --uid ${NB_UID} ${NB_USER}",
             "ENV CONDA_DIR=/srv/conda", "ENV NB_PYTHON_PREFIX=${CONDA_DIR}/envs/notebook",
             "COPY --chown=1000:1000 build_script_files/-2fopt-2frepo2docker-2fbuildpacks-2fconda-2factivate-2dconda"
             "-2esh /etc/profile.d/activate-conda.sh", "RUN TIMEFORMAT='time: %3R' bash -c 'time "
             "/tmp/install-base-env.bash' && rm -rf /tmp/install-base-env.bash /tmp/env",
             "COPY --chown=1000:1000 src/requirements.txt ${REPO_DIR}/requirements.txt",
             "RUN ${KERNEL_PYTHON_PREFIX}/bin/pip install --no-cache-dir -r \"requirements.txt\"",
             "COPY --chown=1000:1000 src/ ${REPO_DIR}/", f"LABEL repo2docker.ref={ref}",
             f"LABEL repo2docker.repo={repo_url}", "LABEL repo2docker.version=2024.07.0",
             "USER ${NB_USER}", "ENTRYPOINT [\"/usr/local/bin/repo2docker-entrypoint\"]",
             "CMD [\"jupyter\", \"notebook\", \"--ip\", \"0.0.0.0\"]"]
    at = 16.0
    for number, step in enumerate(steps, 1):
        lines.append((at, "building", f"Step {number}/{len(steps)} : {step}\n"))
        lines.append((at + 0.5, "building", f" ---> Running in {hashlib.sha1(step.encode()).hexdigest()[:12]}\n"))
        at += (PUSH - 20) / len(steps)
    lines.append((PUSH - 2, "building", f"Successfully built {hashlib.sha1(image.encode()).hexdigest()[:12]}\n"))
    lines.append((PUSH - 1, "building", f"Successfully tagged {image}\n"))
    return lines


def start_build(store, clock, cluster: ClusterState, hub: Hub, name: str, image: str, repo_url: str,
                ref: str) -> Build:
    """Submit the build pod, or re-attach to the one of this name (build.py ``submit`` ignores 409)."""
    with cluster.schedule.lock:
        current = cluster.builds.get((hub.namespace, name))
        if current is not None and not current.outcome:
            return current
        build = cluster.builds[(hub.namespace, name)] = Build(name, image)
    now = clock.time()
    if not builder_ready(store, hub):
        # The build pod mounts the builder's socket by hostPath (build.py get_builder_volumes, type Socket, at
        # <hostSocketDir>/docker.sock or podman.sock). Without a running builder on the node the kubelet never
        # starts it ("MountVolume.SetUp failed for volume \"docker-socket\" : hostPath type check failed: ... is not
        # a socket file"): the pod stays Pending, the stream says nothing after "Waiting for build to start...",
        # until KubernetesCleaner deletes the build after max_age; the watch then reports FAILED, a bare
        # {"phase": "failed"}.
        cluster.schedule.at(now + BUILD_MAX_AGE + BUILD_CLEANUP_INTERVAL, lambda due: _end(build, due, "failed"))
        return build
    build.entries.append((now + RUNNING, "status", "running"))
    for delay, phase, message in build_log(repo_url, ref, image):
        build.entries.append((now + delay, "log", {"message": message, "phase": phase}))
    cluster.schedule.at(now + PUSH, lambda due: _push(store, clock, cluster, hub, build, due))
    return build


def _end(build: Build, due: float, outcome: str) -> None:
    build.entries.append((due, "status", outcome))
    build.outcome = outcome


def _push(store, clock, cluster: ClusterState, hub: Hub, build: Build, due: float) -> None:
    """repo2docker 2024.07.0 ``push_image``: "Pushing image" with layer progress, "Successfully pushed"; a refusal is
    logged with phase failed, then ``json_excepthook`` logs "Error during build: ..." and the pod fails."""
    layers = {hashlib.sha1(f"{build.image}{n}".encode()).hexdigest()[:12]: "Preparing" for n in range(3)}
    build.entries.append((due + 1, "log", {"message": "Pushing image\n", "progress": layers,
                                           "layers": {k: {"status": v, "id": k} for k, v in layers.items()},
                                           "phase": "pushing"}))
    refusal = push(store, hub, build.image, clock.now())
    if refusal:
        build.entries.append((due + 3, "log", {"message": refusal, "phase": "failed"}))
        build.entries.append((due + 3, "log", {"message": f"Error during build: {refusal}", "phase": "failed"}))
        build.entries.append((due + 4, "status", "failed"))
        build.outcome = "failed"
        return
    pushed = {k: "Pushed" for k in layers}
    build.entries.append((due + 12, "log", {"message": "Pushing image\n", "progress": pushed,
                                            "layers": {k: {"status": v, "id": k} for k, v in pushed.items()},
                                            "phase": "pushing"}))
    build.entries.append((due + 20, "log", {"message": f"Successfully pushed {build.image}", "phase": "pushing"}))
    build.entries.append((due + 22, "status", "built"))  # Succeeded, deleted by cleanup: the watch says BUILT
    build.outcome = "built"
    cluster.pushed.add(build.image)


# -- the stream -----------------------------------------------------------------------------------------------------
def data(event: dict) -> bytes:
    """BuildHandler.emit."""
    return f"data: {json.dumps(event)}\n\n".encode()


class Stream:
    """One BuildHandler request: yields (simulated delay, bytes) as nginx_proxy relays them."""

    def __init__(self, store, clock, cluster: ClusterState, hub: Hub, headers: dict):
        self.store, self.clock, self.cluster, self.hub, self.headers = store, clock, cluster, hub, headers
        self._keepalive = clock.time() + KEEPALIVE_INTERVAL

    def wait_until(self, due: float) -> Iterator[tuple[float, bytes]]:
        """Sleep until ``due``, with a keepalive every 25 s (at most one per wake when the clock jumps)."""
        while True:
            now = self.clock.time()
            if now >= self._keepalive:
                self._keepalive = max(self._keepalive + KEEPALIVE_INTERVAL, now)
                yield 0, b":keepalive\n\n"
            if now >= due:
                self.cluster.schedule.settle()
                return
            yield min(due, self._keepalive) - now, b""

    def run(self, provider: str, spec: str) -> Iterator[tuple[float, bytes]]:
        if provider != "gh":
            yield 0, data({"phase": "failed", "message": f"No provider found for prefix {provider}\n"})
            return
        parts = spec.rstrip("/").split("/", 2)
        if len(parts) != 3:
            yield 0, data({"phase": "failed", "message": f'Spec is not of the form "user/repo/ref", provided: '
                                                         f'"{spec}".\n'})
            return
        owner, repo, ref = parts[0], parts[1].removesuffix(".git"), resolve_ref(*parts)
        repo_url = f"https://github.com/{owner}/{repo}"
        slug = f"{owner}-{repo}"
        image = image_name(self.hub.image_prefix, slug, ref)
        self.launch_args = {"binder_ref_url": f"{repo_url}/tree/{ref}",
                            "binder_launch_host": f"https://{self.headers.get('host', '').split(':')[0]}/",
                            "binder_request": f"v2/gh/{spec.rstrip('/')}",
                            "binder_persistent_request": f"v2/gh/{owner}/{repo}/{ref}",
                            "binder_client_ip": self.headers.get("x-real-ip", "")}
        if image_found(self.cluster, image):
            yield 0, data({"phase": "built", "imageName": image, "message": "Found built image, launching...\n"})
            yield from self.launch(image, repo_url)
            return
        build = start_build(self.store, self.clock, self.cluster, self.hub, build_name(slug, ref), image, repo_url,
                            ref)
        yield 0, data({"phase": "waiting", "message": "Waiting for build to start...\n"})
        # From the start: a re-attached stream reads the pod log with tail_lines=100 (KubernetesBuildExecutor
        # log_tail_lines), and this log is shorter than that, so it replays whole.
        seen = 0
        while True:
            self.cluster.schedule.settle()
            with self.cluster.schedule.lock:
                due = [e for e in build.entries[seen:] if e[0] <= self.clock.time()]
                later = [e[0] for e in build.entries[seen:] if e[0] > self.clock.time()]
                seen += len(due)
            for _, kind, payload in sorted(due, key=lambda e: e[0]):
                if kind == "log":  # repo2docker's JSON lines, passed on as they are
                    yield 0, data(payload)
                elif payload == "failed":
                    yield 0, data({"phase": "failed"})
                    # The handler keeps the stream open with keepalives (only BUILT ends its loop); clients close
                    # on "failed". The stand-in closes it after CLOSE_DELAY.
                    yield from self.wait_until(self.clock.time() + CLOSE_DELAY)
                    return
                elif payload == "built":
                    yield 0, data({"phase": "built", "message": "Built image, launching...\n", "imageName": image})
                    yield from self.launch(image, repo_url)
                    return
            next_due = min(later) if later else self.clock.time() + KEEPALIVE_INTERVAL
            yield from self.wait_until(next_due)

    def launch(self, image: str, repo_url: str) -> Iterator[tuple[float, bytes]]:
        """builder.py ``launch`` and launcher.py ``launch``: a new anonymous user per attempt, up to 4 attempts."""
        yield 0, data({"phase": "launching", "message": "Launching server...\n"})
        retry_delay = LAUNCH_RETRY_DELAY
        for attempt in range(1, LAUNCH_RETRIES + 1):
            username = unique_name_from_repo(repo_url)
            token = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=\n")
            options = {"image": image, "repo_url": repo_url, "token": token, **self.launch_args}
            with self.cluster.schedule.lock:
                spawn = jupyterhub_spawns.start(self.store, self.cluster.schedule, self.hub, username, options,
                                                self.clock.time())
            seen = 0
            while True:
                self.cluster.schedule.settle()
                with self.cluster.schedule.lock:
                    events = [e for e in spawn.events[seen:] if e[0] <= self.clock.time()]
                    later = [e[0] for e in spawn.events[seen:] if e[0] > self.clock.time()]
                    seen += len(events)
                    ended = spawn.ended and not later
                for _, event in sorted(events, key=lambda e: e[0]):
                    yield 0, data({"phase": "launching", "message": event["message"] + "\n"})
                if ended:
                    break
                yield from self.wait_until(min(later) if later else self.clock.time() + 1)
            if spawn.ready:
                url = f"{self.hub.hub_url}user/{username}/"
                yield 0, data({"phase": "ready", "message": f"server running at {url}\n",
                               **options, "url": url})
                yield from self.wait_until(self.clock.time() + CLOSE_DELAY)
                return
            message = spawn.events[-1][1]["message"]
            if attempt == LAUNCH_RETRIES:
                # the last failure is raised out of the handler: BuildHandler.send_error writes it and finishes
                yield 0, data({"phase": "failed", "status_code": 500, "message": message + "\n"})
                return
            yield 0, data({"phase": "launching", "message": f"Launch attempt {attempt} failed, retrying...\n"})
            yield from self.wait_until(self.clock.time() + retry_delay)
            retry_delay *= 2


def respond_build(store, clock, namespace: str, release: str, path: str, headers: dict):
    """The BinderHub Service's answer to ``/build/...``: (status, headers, chunks) or None if the path is not one."""
    match = BUILD_PATH.match(path)
    if match is None:
        return None
    accept = {s.strip().lower() for s in headers.get("accept", "").split(";")}
    if "text/event-stream" not in accept:
        # BuildHandler.prepare raises HTTPError(400); send_error writes the failed event
        body = data({"phase": "failed", "status_code": 400,
                     "message": "Missing Accept header: text/event-stream\n"})
        return 400, [(0, body)]
    hub = read_hub(store, namespace, release)
    stream = Stream(store, clock, state(store, clock), hub, headers)
    return 200, stream.run(match["provider"], match["spec"])
