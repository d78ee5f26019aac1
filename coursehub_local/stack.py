"""The local stack: moto over HTTP with the project's handlers, a Slack receiver, a clock and a ticker."""
from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from coursehub import statemachines
from coursehub.chalice_config import chalice_stage_config
from coursehub_local import moto_patches
from coursehub_local.access_entries import AccessEntries
from coursehub_local.acme_ca import LocalAcmeCa
from coursehub_local.api_gateway import ApiGateway, Identity
from coursehub_local.chart_repository import ChartRepository
from coursehub_local.clock import Clock
from coursehub_local.dispatch import LambdaDispatcher, functions_of
from coursehub_local.dns import LocalDns
from coursehub_local.cluster.provider import LocalClusters
from coursehub_local import ecr_push, fault_endpoint
from coursehub_local.faults import STACK_AGENT, Faults
from coursehub_local.eks import ClusterApiProvider, EksDurations, EksLifecycle
from coursehub_local.eks_addons import EksAddons
from coursehub_local.event_bus import EventBus
from coursehub_local.execution_events import ExecutionEvents
from coursehub_local.https_proxy import HttpsConnectProxy, client_environment, write_ca_bundle
from coursehub_local.schedules import ScheduleRunner
from coursehub_local.seed import Seeded, seed
from coursehub_local.slack_receiver import SlackReceiver
from coursehub_local.timeline import Timeline

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
SMOKE_DIR = Path(__file__).resolve().parent / "smoke"
CREDENTIALS = {"aws_access_key_id": "AKIACOURSEHUBLOCAL00", "aws_secret_access_key": "coursehub-local-secret-key"}
TICK_SECONDS = 0.02
_STACK_CLIENT = Config(user_agent_extra=STACK_AGENT)  # the stack's own calls are never faulted


class PortInUse(RuntimeError):
    """Another process (often another local stack) already listens on a port the stack needs."""


@dataclass
class StackConfig:
    """How to run the stack; ports 0 pick free ones."""

    stage: str = "dev"
    region: str = "us-east-1"
    host: str = "127.0.0.1"
    aws_port: int = 0
    slack_port: int = 0
    api_port: int = 0
    time_scale: float = 1.0
    eks: EksDurations = field(default_factory=EksDurations)
    state_file: Path | None = None
    apps: tuple[str, ...] = ("app", "coursehub_local.smoke.app")
    extra_state_machines: tuple[Path, ...] = (SMOKE_DIR,)


class LocalStack:
    """Start with ``start()``, stop with ``stop()``; ``client(service)`` talks to it."""

    def __init__(self, config: StackConfig | None = None):
        self.config = config or StackConfig()
        self.clock = Clock(self.config.time_scale)
        self.timeline = Timeline(self.clock)
        self.acme_ca = LocalAcmeCa()  # what Let's Encrypt is on AWS; its production root trusted through ca_bundle
        self.dns = LocalDns(self.client)  # Route53 -> load balancer -> local HTTPS front
        self.clusters = LocalClusters(
            self.clock, self.timeline, self.client, host=self.config.host, dns=self.dns, acme_ca=self.acme_ca,
            secret_key_for=lambda key: CREDENTIALS["aws_secret_access_key"]
            if key == CREDENTIALS["aws_access_key_id"] else None,
            sts_endpoints=lambda: [self.endpoint])
        self.cluster_api: ClusterApiProvider = self.clusters
        self.access_entries = AccessEntries()
        self.faults = Faults()  # errors to answer instead of moto (retry rehearsals)
        self.eks = EksLifecycle(self.timeline, self.config.eks, self.cluster_api)
        self.addons = EksAddons(self.timeline, self.config.eks, self.clusters)  # add-ons install into the clusters
        self.event_bus = EventBus(self.client)  # events AWS services emit, e.g. Step Functions status changes
        self.execution_events = ExecutionEvents(self.event_bus)
        self.dispatcher: LambdaDispatcher | None = None
        self.slack: SlackReceiver | None = None
        self.seeded: Seeded | None = None
        self.schedules: ScheduleRunner | None = None
        self.https_proxy: HttpsConnectProxy | None = None
        self.ca_bundle: Path | None = None
        self.acme_staging_roots: Path | None = None  # the staging root, which no trust store holds
        self.chart_repository: ChartRepository | None = None
        self.api: ApiGateway | None = None
        self._server = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._saved_env: dict[str, str | None] = {}

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def client(self, service: str) -> Any:
        """A boto3 client for the stack (what any program gets from ``.coursehub/local.json``)."""
        return boto3.client(service, endpoint_url=self.endpoint, region_name=self.config.region,
                            config=_STACK_CLIENT, **CREDENTIALS)

    _running: "LocalStack | None" = None  # moto's state is per process: one stack at a time

    def start(self) -> "LocalStack":
        if LocalStack._running is not None:
            raise RuntimeError("a local stack already runs in this process; stop it first (moto's state is shared)")
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request drowns the output
        moto_patches.configure("stepfunctions", {"execute_state_machine": True})
        moto_patches.configure("lambda", {"use_docker": False})
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))  # the Chalice app (app.py) lives at the project root
        stage_config = chalice_stage_config(ROOT, self.config.stage)
        self._environment_for_handlers(stage_config["environment"])  # before the handlers' modules import
        functions = [f for module in self.config.apps for f in functions_of(module, self.config.stage)]
        self.dispatcher = LambdaDispatcher(functions)
        moto_patches.install(self.clock, self.dispatcher, self.eks, self.access_entries, self.execution_events,
                             self.addons)
        try:
            for port in (self.config.aws_port, self.config.slack_port, self.config.api_port):
                _claimable(self.config.host, port)  # werkzeug exits the process on a busy port
            port = self.config.aws_port
            moto_app, request_handler = moto_patches.server_app()
            app = fault_endpoint.wsgi(self.faults, self.faults.wsgi(moto_app))
            self._server = make_server(self.config.host, port, app, threaded=True, request_handler=request_handler)
            port = self.config.slack_port
            self.slack = SlackReceiver(self.config.host, port)
        except OSError as error:
            if self._server:
                self._server.server_close()
            moto_patches.uninstall()
            raise PortInUse(f"cannot listen on {self.config.host}:{port} ({error.strerror}); "
                            "is a local stack already running? See .coursehub/local.json") from None
        self._spawn("aws", self._server.serve_forever)
        os.environ["MOTO_PORT"] = str(self._server.server_address[1])  # the Step Functions engine calls Lambda here
        self.slack.start()
        self._start_public_names()
        self.chart_repository = ChartRepository().start()  # CHART_REPOSITORY: the real chart packages
        sources = statemachines.sources() + [s for d in self.config.extra_state_machines
                                             for s in statemachines.sources(d)]
        self.seeded = seed(self.client, app_name=stage_config["app_name"], stage=self.config.stage,
                           chalice_config=stage_config, functions=functions,
                           state_machine_files=sources, slack_webhook_url=self.slack.webhook_url,
                           chart_repository_url=self.chart_repository.url)
        self._environment_for_handlers(self.seeded.environment)
        account = self.client("sts").get_caller_identity()["Account"]
        self.schedules = ScheduleRunner(self.clock, account, self.config.region, self.client)
        self.api = self._start_api(account)
        self._spawn("ticker", self._tick)
        if self.config.state_file:
            self.write_state_file(self.config.state_file)
        LocalStack._running = self
        return self

    def stop(self) -> None:
        if LocalStack._running is self:
            LocalStack._running = None
        self._stopping.set()
        self.clusters.stop()
        if self.schedules:
            self.schedules.close()
        self.event_bus.close()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        if self.slack:
            self.slack.stop()
        if self.api:
            self.api.stop()
        if self.https_proxy:
            self.https_proxy.stop()
        if self.chart_repository:
            self.chart_repository.stop()
        if self.ca_bundle:
            shutil.rmtree(self.ca_bundle.parent, ignore_errors=True)
        for thread in self._threads:
            thread.join(timeout=5)
        moto_patches.uninstall()
        moto_patches.reset()
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _fresh_default_session()
        if self.config.state_file and self.config.state_file.exists():
            self.config.state_file.unlink()

    def details(self) -> dict:
        """What ``.coursehub/local.json`` holds: enough for any boto3 program to use the stack."""
        return {
            "aws_endpoint_url": self.endpoint,
            "faults_url": self.endpoint + fault_endpoint.PATH,
            "region": self.config.region,
            **CREDENTIALS,
            "slack_url": self.slack.webhook_url,
            "https_proxy": self.https_proxy.url if self.https_proxy else None,
            "ca_bundle": str(self.ca_bundle) if self.ca_bundle else None,
            "acme_staging_roots": str(self.acme_staging_roots) if self.acme_staging_roots else None,
            "chart_repository": self.chart_repository.url if self.chart_repository else None,
            "api_url": self.api.url if self.api else None,
            "time_scale": self.clock.time_scale,
            "stage": self.config.stage,
            "state_machines": dict(self.seeded.state_machines) if self.seeded else {},
            "secrets": dict(self.seeded.secrets) if self.seeded else {},
            "hosted_zone_id": self.seeded.hosted_zone_id if self.seeded else "",
            "subnet_ids": list(self.seeded.subnet_ids) if self.seeded else [],
            "pid": os.getpid(),
        }

    def push_from_cluster(self, cluster: str, image_ref: str, namespace: str = "binderhub") -> ecr_push.PushedImage:
        """Push ``image_ref`` to ECR as a BinderHub build pod in ``cluster`` does, now on the stack's clock
        (``ecr_push.push_from_store``); raises ``ecr_push.RegistryRefusal`` where ECR refuses it."""
        return ecr_push.push_from_store(self.clusters.server(cluster).store, image_ref, self.clock.now(), namespace)

    def write_state_file(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.details(), indent=2) + "\n")

    def __enter__(self) -> "LocalStack":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _spawn(self, name: str, target: Any) -> None:
        thread = threading.Thread(target=target, name=f"local-stack-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _tick(self) -> None:
        while not self._stopping.wait(TICK_SECONDS):
            try:
                self.timeline.run_due()
                self.schedules.fire_due()
            except Exception:  # noqa: BLE001 - the clock must keep ticking; the error is logged
                log.exception("local stack tick failed")

    def _start_api(self, account: str) -> ApiGateway:
        """The app's REST API behind SigV4, answering to the stack's credentials (see api_gateway.py)."""
        identity = Identity(CREDENTIALS["aws_access_key_id"], f"arn:aws:iam::{account}:user/coursehub-local", account)

        def identity_for(access_key: str):
            return (CREDENTIALS["aws_secret_access_key"], identity) if access_key == identity.access_key else None

        try:
            gateway = ApiGateway(ROOT / "app.py", self.config.region, identity_for, host=self.config.host,
                                 port=self.config.api_port)
        except OSError as error:
            raise PortInUse(f"cannot listen on {self.config.host}:{self.config.api_port} ({error.strerror}); "
                            "is a local stack already running? See .coursehub/local.json") from None
        return gateway.start()

    def _start_public_names(self) -> None:
        """The HTTPS proxy and CA bundle through which a hub's public names reach this stack (see https_proxy.py)."""
        self.https_proxy = HttpsConnectProxy(self.dns, self.config.host).start()
        folder = Path(tempfile.mkdtemp(prefix="coursehub-local-ca-"))
        self.ca_bundle = write_ca_bundle(folder, self.acme_ca.ca_pem)  # the production root only, as on AWS
        self.acme_staging_roots = folder / "acme-staging-roots.pem"
        self.acme_staging_roots.write_bytes(self.acme_ca.staging_ca_pem)
        # ACME_STAGING_ROOTS: the stage setting naming the roots staging hubs are verified against.
        self._environment_for_handlers({**client_environment(self.https_proxy.url, self.ca_bundle),
                                        "ACME_STAGING_ROOTS": str(self.acme_staging_roots),
                                        **launch_check_timings(self.clock.time_scale)})

    def _environment_for_handlers(self, extra: dict[str, str]) -> None:
        """The process environment the in-process handlers see: the stack's endpoint plus the stage's variables."""
        values = {
            "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": self.config.region,
            "AWS_REGION": self.config.region,
            **({"AWS_ENDPOINT_URL": self.endpoint} if self._server else {}),
            **extra,
        }
        for name, value in values.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value
        _fresh_default_session()


def launch_check_timings(time_scale: float) -> dict[str, str]:
    """The launch check's stream and kernel timings for a stack whose clock runs ``time_scale`` times faster.

    The check reads real sockets in real seconds while the stand-ins answer on the stack's clock, so its
    production timings (chalicelib/settings.py) are scaled the same way, with floors for a loaded machine: a
    healthy stream's longest silence (BinderHub's 25 s keepalive) must stay apart from thread scheduling delays.
    The watch for the stream's end after ``ready`` stays at half of BinderHub's 60 s hold, so a healthy stream is
    never taken for a buffered one."""
    def real(simulated: float, floor: float) -> str:
        return f"{max(simulated / time_scale, floor):.4g}"
    return {"LAUNCH_STREAM_WINDOW_SECONDS": real(20, 0.2), "LAUNCH_STREAM_IDLE_SECONDS": real(40, 0.5),
            "LAUNCH_SECONDS": real(600, 1.0), "LAUNCH_STREAM_END_WAIT_SECONDS": f"{min(30 / time_scale, 5.0):.4g}",
            "KERNEL_LISTEN_SECONDS": real(2, 1.0)}


def _fresh_default_session() -> None:
    """boto3's default session reads the environment's credentials once, when first used: one made before the
    stack set them (a test's client, say) would sign the handlers' EKS tokens with other keys, which the
    clusters' APIs refuse. A Lambda function starts with a fresh one; so do the in-process handlers."""
    import boto3

    boto3.setup_default_session()


def _claimable(host: str, port: int) -> None:
    """Raise OSError if ``port`` cannot be listened on."""
    if port == 0:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
