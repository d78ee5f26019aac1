"""One settings object, built once from the environment; the defaults of every setting live here.

Per-stage values live in ``.chalice/config.json`` and the deployment's
parameters; the deployment and the local stack only differ in these values and
in the AWS endpoint boto3 is given. Every function needs ``STAGE``,
``HUB_TABLE_NAME`` and ``SLACK_WEBHOOK_SECRET_ARN``; what a function needs
besides is in ``FUNCTION_NEEDS``, checked when it starts (``for_function``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from chalicelib.errors import SettingsError
from chalicelib.hub_names import STAGE
from chalicelib.image_registry import REGISTRIES

DEFAULT_INSTANCE_TYPES = ("m5.large", "m5.xlarge", "m5.2xlarge")
# Let's Encrypt's staging roots, shipped with the app: what a staging hub's certificate chains to.
DEFAULT_ACME_STAGING_ROOTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "letsencrypt-staging-roots.pem")
_SCHEDULES = ("schedule_group", "scheduler_role_arn", "teardown_state_machine_arn", "notify_function_arn",
              "scale_function_arn", "registry_login_function_arn")
# The settings a function cannot work without, beyond the three every function needs; by its Chalice name.
FUNCTION_NEEDS: dict[str, tuple[str, ...]] = {
    "api_handler": ("provision_state_machine_arn", "teardown_state_machine_arn", "idempotency_table_name",
                    "launch_check_state_machine_arn", *_SCHEDULES),  # a PATCH replaces the hub's schedules
    "scale_hub": ("launch_check_state_machine_arn",),  # the morning scale-up checks a launch
    "create_cluster": ("cluster_role_arn", "subnet_ids"),
    "create_nodegroup": ("node_role_arn", "kube_role_arns", "subnet_ids"),
    "create_storage_addons": ("ebs_csi_role_arn",),
    "prepare_registry": ("ecr_creation_role_arn",),
    "schedule_lifecycle": _SCHEDULES,
    "delete_schedules": ("schedule_group",),
    "audit_hub": ("schedule_group",),
}


@dataclass(frozen=True)
class Settings:
    """Configuration every handler shares."""

    stage: str
    hub_table_name: str
    slack_webhook_secret_arn: str
    slack_timeout_seconds: float = 10.0
    tools_dir: str = "/opt"  # the kubectl/helm layer: /opt/helm/helm, /opt/kubectl/kubectl
    kube_timeout_seconds: float = 120.0
    chart_repository: str | None = None  # None: each chart from its own repository (chalicelib/charts.py)
    # What the stage allows a request to ask for, and what it fills in when a request leaves it out.
    allowed_instance_types: tuple[str, ...] = DEFAULT_INSTANCE_TYPES
    max_nodes_per_hub: int = 10
    term_horizon_days: int = 270
    allow_extended_support: bool = False  # Kubernetes versions past EKS standard support ($0.60/h, not $0.10/h)
    acme_staging_roots: str = DEFAULT_ACME_STAGING_ROOTS  # PEM file: the only roots a staging hub is verified against
    registries: tuple[str, ...] = REGISTRIES  # what hubs may use, the first the default (chalicelib/image_registry.py)
    dockerhub_secret_arn: str = ""
    github_token_secret_arn: str = ""
    # What the provisioning and lifecycle functions need from the deployment; checked when used (``require``).
    cluster_role_arn: str = ""
    node_role_arn: str = ""
    ebs_csi_role_arn: str = ""  # the EBS CSI driver's role, given to its controller through EKS Pod Identity
    ecr_creation_role_arn: str = ""  # the role ECR assumes to tag the repositories a creation template makes
    kube_role_arns: tuple[str, ...] = ()  # roles of the functions that talk to Kubernetes; made cluster admins
    subnet_ids: tuple[str, ...] = ()
    schedule_group: str = ""
    scheduler_role_arn: str = ""
    teardown_state_machine_arn: str = ""
    provision_state_machine_arn: str = ""
    idempotency_table_name: str = ""  # the API's record of Idempotency-Key requests
    scale_function_arn: str = ""
    notify_function_arn: str = ""
    registry_login_function_arn: str = ""  # renews the ECR login of a hub's image builds (its schedule's target)
    launch_check_state_machine_arn: str = ""  # launches a test repository (on demand, after the morning scale-up)
    # How the launch check reads BinderHub's event stream (chalicelib/binder_stream.py): one read's window while the
    # image builds, the longest silence (BinderHub writes every 25 s), the launch's bound, the watch for the
    # stream's end after ready (BinderHub holds it 60 s); and how long it listens on the kernel's WebSocket per call.
    launch_stream_window_seconds: float = 20.0
    launch_stream_idle_seconds: float = 40.0
    launch_seconds: float = 600.0
    launch_stream_end_wait_seconds: float = 5.0
    kernel_listen_seconds: float = 2.0

    def require(self, *names: str) -> None:
        """Raise SettingsError naming the first of ``names`` that the deployment did not provide."""
        for name in names:
            if not getattr(self, name):
                raise SettingsError(f"environment variable {name.upper()} is not set")

    def for_function(self, function: str) -> "Settings":
        """These settings, once every one ``function`` needs is there; SettingsError naming the first missing."""
        self.require(*FUNCTION_NEEDS.get(function, ()))
        return self

    def limits(self):
        """The stage's bounds on a hub request."""
        from chalicelib.hub_request import Limits

        return Limits(instance_types=self.allowed_instance_types, max_nodes=self.max_nodes_per_hub,
                      term_horizon_days=self.term_horizon_days, allow_extended_support=self.allow_extended_support,
                      registries=self.registries)

    def request_defaults(self) -> dict:
        """What a request may leave out because the stage provides it: the registry and the default secrets' ARNs."""
        defaults = {"registry": self.registries[0], "dockerhub_secret_arn": self.dockerhub_secret_arn,
                    "github_token_secret_arn": self.github_token_secret_arn,
                    "slack_webhook_secret_arn": self.slack_webhook_secret_arn}
        return {name: value for name, value in defaults.items() if value}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Build the settings, naming the first missing or malformed variable."""
        env = os.environ if environ is None else environ

        def text(name: str) -> str:
            return env.get(name, "").strip()

        def required(name: str) -> str:
            if not text(name):
                raise SettingsError(f"environment variable {name} is not set")
            return text(name)

        def listed(name: str) -> tuple[str, ...]:
            return tuple(item.strip() for item in text(name).split(",") if item.strip())

        def number(name: str, default: float, low: float, high: float, why: str = "") -> float:
            raw = text(name) or str(default)
            try:
                value = float(raw)
            except ValueError:
                raise SettingsError(f"{name} is not a number: {raw!r}") from None
            if not low <= value <= high:
                raise SettingsError(f"{name} must be in [{low:g}, {high:g}]{why}")
            return value

        def flag(name: str) -> bool:
            raw = text(name).lower() or "false"
            if raw not in ("true", "false"):
                raise SettingsError(f"{name} must be true or false: {text(name)!r}")
            return raw == "true"

        slack_timeout = number("SLACK_TIMEOUT_SECONDS", cls.slack_timeout_seconds, 0.1, 60)
        kube_timeout = number("KUBE_TIMEOUT_SECONDS", cls.kube_timeout_seconds, 10, 600,
                              " (a Lambda runs 15 minutes at most)")
        max_nodes = number("MAX_NODES_PER_HUB", cls.max_nodes_per_hub, 1, 450, " (EKS allows 450 nodes per node group)")
        horizon = number("TERM_HORIZON_DAYS", cls.term_horizon_days, 1, 730)
        window = number("LAUNCH_STREAM_WINDOW_SECONDS", cls.launch_stream_window_seconds, 0.01, 120)
        idle = number("LAUNCH_STREAM_IDLE_SECONDS", cls.launch_stream_idle_seconds, 0.01, 300)
        launch = number("LAUNCH_SECONDS", cls.launch_seconds, 0.1, 780, " (within a Lambda's 15 minutes)")
        end_wait = number("LAUNCH_STREAM_END_WAIT_SECONDS", cls.launch_stream_end_wait_seconds, 0.001, 50,
                          " (below BinderHub's 60 s hold after ready)")
        listen = number("KERNEL_LISTEN_SECONDS", cls.kernel_listen_seconds, 0.01, 30)
        repository = text("CHART_REPOSITORY") or None
        staging_roots = text("ACME_STAGING_ROOTS") or cls.acme_staging_roots
        if not os.path.isfile(staging_roots):
            raise SettingsError(f"ACME_STAGING_ROOTS names no file: {staging_roots!r}")
        if not STAGE.fullmatch(required("STAGE")):
            raise SettingsError(f"STAGE must be 1 to 20 lowercase letters or digits, starting with a letter "
                                f"(it is part of every AWS name the app gives): {text('STAGE')!r}")
        registries = listed("REGISTRIES") or cls.registries
        unknown = sorted(set(registries) - set(REGISTRIES))
        if unknown or len(set(registries)) != len(registries):
            raise SettingsError(f"REGISTRIES lists each of {', '.join(REGISTRIES)} at most once: "
                                f"{text('REGISTRIES')!r}")
        if repository and not repository.startswith(("https://", "http://")):
            raise SettingsError(f"CHART_REPOSITORY must be an http(s):// Helm repository URL: {repository!r}")
        return cls(
            stage=required("STAGE"),
            hub_table_name=required("HUB_TABLE_NAME"),
            slack_webhook_secret_arn=required("SLACK_WEBHOOK_SECRET_ARN"),
            slack_timeout_seconds=slack_timeout,
            tools_dir=text("TOOLS_DIR") or cls.tools_dir,
            kube_timeout_seconds=kube_timeout,
            chart_repository=repository,
            allowed_instance_types=listed("ALLOWED_INSTANCE_TYPES") or cls.allowed_instance_types,
            max_nodes_per_hub=int(max_nodes),
            term_horizon_days=int(horizon),
            allow_extended_support=flag("ALLOW_EXTENDED_SUPPORT"),
            acme_staging_roots=staging_roots,
            registries=registries,
            dockerhub_secret_arn=text("DOCKERHUB_SECRET_ARN"),
            github_token_secret_arn=text("GITHUB_TOKEN_SECRET_ARN"),
            cluster_role_arn=text("CLUSTER_ROLE_ARN"),
            node_role_arn=text("NODE_ROLE_ARN"),
            ebs_csi_role_arn=text("EBS_CSI_ROLE_ARN"),
            ecr_creation_role_arn=text("ECR_CREATION_ROLE_ARN"),
            kube_role_arns=listed("KUBE_ROLE_ARNS"),
            subnet_ids=listed("SUBNET_IDS"),
            schedule_group=text("SCHEDULE_GROUP"),
            scheduler_role_arn=text("SCHEDULER_ROLE_ARN"),
            teardown_state_machine_arn=text("TEARDOWN_STATE_MACHINE_ARN"),
            provision_state_machine_arn=text("PROVISION_STATE_MACHINE_ARN"),
            idempotency_table_name=text("IDEMPOTENCY_TABLE_NAME"),
            scale_function_arn=text("SCALE_FUNCTION_ARN"),
            notify_function_arn=text("NOTIFY_FUNCTION_ARN"),
            registry_login_function_arn=text("REGISTRY_LOGIN_FUNCTION_ARN"),
            launch_check_state_machine_arn=text("LAUNCH_CHECK_STATE_MACHINE_ARN"),
            launch_stream_window_seconds=window,
            launch_stream_idle_seconds=idle,
            launch_seconds=launch,
            launch_stream_end_wait_seconds=end_wait,
            kernel_listen_seconds=listen,
        )
