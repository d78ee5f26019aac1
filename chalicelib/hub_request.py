"""A hub request: what an instructor or admin asks for, validated once and shared by the API, CLI and workflow.

Secrets appear only as Secrets Manager ARNs. Stage defaults fill what the
request leaves out; stage limits bound what it may ask for.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from chalicelib import charts, kubernetes_versions
from chalicelib.image_registry import REGISTRIES

DNS_LABEL = r"^[a-z]([a-z0-9-]{0,28}[a-z0-9])?$"  # short enough for every name derived from it
_DNS_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
SECRET_ARN = r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$"
EMAIL = r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$"
IMAGE_PREFIX = r"^[a-z0-9]+(?:[._-][a-z0-9]+)*/[a-z0-9]+(?:[._-][a-z0-9]+)*-$"



@dataclass(frozen=True)
class Limits:
    """What a stage allows (from its settings)."""

    instance_types: tuple[str, ...] = ("m5.large", "m5.xlarge", "m5.2xlarge")
    max_nodes: int = 10
    term_horizon_days: int = 270
    allow_extended_support: bool = False  # versions past EKS standard support cost 6x (kubernetes_versions.py)
    registries: tuple[str, ...] = REGISTRIES  # the registries hubs of the stage may use
    today: date | None = None  # None: the real date


def _iso_date(value: Any) -> Any:
    """JSON has no date type: a date is exactly an ISO ``YYYY-MM-DD`` string (or, from Python, a date)."""
    if isinstance(value, str):
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError("a date is written YYYY-MM-DD")
        return date.fromisoformat(value)  # an impossible day (2027-02-30) raises ValueError: refused
    if isinstance(value, datetime):
        raise ValueError("a date is written YYYY-MM-DD, without a time")
    return value  # strict mode refuses anything else that is not a date


IsoDate = Annotated[date, BeforeValidator(_iso_date)]


class _Model(BaseModel):
    # strict: what a caller sends has the documented JSON type or is refused (no "1" for 1, 1.0 for 1, "yes" for
    # true), and nothing is trimmed or otherwise converted; extra="forbid": an unknown field (a typo) is refused
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Nodes(_Model):
    """The node group: instance type and scaling."""

    instance_type: str = "m5.xlarge"
    min_size: int = Field(1, ge=0)
    desired_size: int = Field(1, ge=0)
    max_size: int = Field(3, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> "Nodes":
        if not self.min_size <= self.desired_size <= self.max_size:
            raise ValueError("need min_size <= desired_size <= max_size")
        return self

    @field_validator("instance_type")
    @classmethod
    def _allowed_type(cls, value: str, info: ValidationInfo) -> str:
        if _stored(info):
            return value
        allowed = _limits(info).instance_types
        if value not in allowed:
            raise ValueError(f"instance type {value!r} is not allowed here; choose one of {', '.join(allowed)}")
        return value

    @field_validator("max_size")
    @classmethod
    def _bounded(cls, value: int, info: ValidationInfo) -> int:
        if not _stored(info) and value > _limits(info).max_nodes:
            raise ValueError(f"at most {_limits(info).max_nodes} nodes per hub")
        return value


class Culling(_Model):
    """JupyterHub's idle culler: seconds idle before a server stops, and the longest any server lives."""

    timeout: int = Field(3600, ge=300, le=7 * 86400)
    every: int = Field(600, ge=60, le=86400)
    max_age: int = Field(0, ge=0, le=30 * 86400)  # 0: no limit


class ScalingWindow(_Model):
    """When nobody teaches: the node group shrinks to zero at ``down_at`` and comes back at ``up_at`` (local times)."""

    down_at: str = Field("20:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM, the course's time zone")
    up_at: str = Field("07:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM, the course's time zone")
    weekdays_only: bool = Field(True, description="stay at zero on Saturdays and Sundays")

    @model_validator(mode="after")
    def _apart(self) -> "ScalingWindow":
        if self.down_at == self.up_at:
            raise ValueError("down_at and up_at must differ")
        return self


class LaunchTest(_Model):
    """The repository the launch check builds and launches, the cell it runs and what the cell must print.

    The default is the tiny repository mybinder.org's deployment checks launch (binderhub-ci-repos)."""

    enabled: bool = Field(True, description="run the check while provisioning and after each morning scale-up")
    repository: str = Field("gh/binderhub-ci-repos/cached-minimal-dockerfile/HEAD", max_length=255,
                            pattern=r"^(gh/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+|gl/[A-Za-z0-9_.%-]+|git/[A-Za-z0-9_.%~-]+)"
                                    r"/[A-Za-z0-9_.%/-]+$",
                            description="BinderHub's provider/spec, as in a launch link: gh/<owner>/<repo>/<ref>")
    code: str = Field("print(6 * 7)", min_length=1, max_length=2000, description="the cell the check runs")
    expected_output: str = Field("42", max_length=200, description="text the cell's output must contain")


class ChartVersions(_Model):
    """Pinned chart versions; never "latest"."""

    ingress: str = charts.INGRESS.version
    cert_manager: str = charts.CERT_MANAGER.version
    binderhub: str = charts.BINDERHUB.version

    @field_validator("*")
    @classmethod
    def _pinned(cls, value: str) -> str:
        if not re.fullmatch(r"v?\d+\.\d+\.\d+([-.+][0-9A-Za-z.-]+)?", value):
            raise ValueError(f"{value!r} is not a pinned chart version")
        return value


class HubRequest(_Model):
    """Everything needed to provision one course hub."""

    course_id: str = Field(pattern=DNS_LABEL, description="DNS label; cluster and release names derive from it")
    domain: str
    binder_host: str | None = None
    hub_host: str | None = None
    hosted_zone_id: str | None = Field(None, pattern=r"^Z[A-Z0-9]{1,32}$")
    term_end: IsoDate
    timezone: str = "UTC"
    nodes: Nodes = Nodes()
    kubernetes_version: str = Field(kubernetes_versions.DEFAULT,
                                    description="an EKS version in standard support (others only where the stage "
                                                "allows extended support, at $0.60 instead of $0.10 per hour)")
    chart_versions: ChartVersions = ChartVersions()
    culling: Culling = Culling()
    cors_origin: str = "*"
    user_memory: str | None = Field(None, pattern=r"^[1-9][0-9]{0,5}(\.[0-9]{1,3})?[KMGT]$",
                                    description="memory each student's server is guaranteed (KubeSpawner: K, M, G, "
                                                "T); a node must have it free for the server to start. None: no "
                                                "guarantee, the BinderHub chart's default")
    launch_test: LaunchTest = Field(LaunchTest(), description="READY means this repository launched and ran a cell")
    image_builder: Literal["dind", "pink"] = "dind"
    registry: Literal["ecr", "dockerhub"] = Field(
        "ecr", description="where built images go: the account's Amazon ECR (no password; the stage's default where "
                           "it allows it) or DockerHub (an account whose password is in Secrets Manager)")
    image_prefix: str | None = Field(None, pattern=IMAGE_PREFIX, validate_default=True,
                                     description="DockerHub <user-or-org>/<prefix>- (registry dockerhub only)")
    images_per_repository: int = Field(10, ge=1, le=1000, description="ECR: the newest images kept in each "
                                                                      "repository; older ones expire")
    archive_images: bool = Field(False, description="ECR: keep the hub's image repositories when it is retired")
    acme_email: str = Field(pattern=EMAIL)
    acme_staging: bool = False
    dockerhub_secret_arn: str | None = Field(None, pattern=SECRET_ARN, validate_default=True,
                                             description="DockerHub username and password (registry dockerhub only)")
    github_token_secret_arn: str = Field(pattern=SECRET_ARN)
    slack_webhook_secret_arn: str = Field(pattern=SECRET_ARN)
    scaling: ScalingWindow | None = Field(None, description="nightly scale-down and morning scale-up; none: always on")
    reminder_days: int = Field(7, ge=1, le=60, description="days before the term end to remind on Slack")
    rollback_on_failure: bool = Field(False, description="tear down what was built if provisioning fails")

    @field_validator("domain", "binder_host", "hub_host")
    @classmethod
    def _dns_name(cls, value: str | None) -> str | None:
        if value is not None and not _DNS_NAME.fullmatch(value.lower().rstrip(".")):
            raise ValueError(f"{value!r} is not a DNS name")
        return None if value is None else value.lower().rstrip(".")

    @field_validator("term_end")
    @classmethod
    def _within_horizon(cls, value: date, info: ValidationInfo) -> date:
        if _stored(info):
            return value
        limits = _limits(info)
        today = limits.today or date.today()
        if value <= today:
            raise ValueError("the term must end after today")
        if value > today + timedelta(days=limits.term_horizon_days):
            raise ValueError(f"the term may end at most {limits.term_horizon_days} days from today")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in _time_zones():  # exactly an IANA name: ZoneInfo alone would open "utc" on some file systems
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as 'Europe/Kyiv'")
        return value

    @field_validator("kubernetes_version")
    @classmethod
    def _supported_version(cls, value: str, info: ValidationInfo) -> str:
        if _stored(info):
            return value
        limits = _limits(info)
        problem = kubernetes_versions.problem(value, limits.today or date.today(), limits.allow_extended_support)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("registry")
    @classmethod
    def _registry_allowed(cls, value: str, info: ValidationInfo) -> str:
        allowed = _limits(info).registries
        if not _stored(info) and value not in allowed:
            raise ValueError(f"registry {value!r} is not allowed here; choose {' or '.join(allowed)}")
        return value

    @field_validator("image_prefix", "dockerhub_secret_arn")
    @classmethod
    def _dockerhub_only(cls, value: str | None, info: ValidationInfo) -> str | None:
        registry = info.data.get("registry")
        if registry == "dockerhub" and value is None:
            raise ValueError(f"{info.field_name} is required with registry 'dockerhub'")
        if registry == "ecr" and value is not None:
            raise ValueError(f"{info.field_name} is for registry 'dockerhub'; with 'ecr' images go to the account's "
                             f"registry, under coursehub-<stage>/<course_id>/")
        return value

    @field_validator("cors_origin")
    @classmethod
    def _origin(cls, value: str) -> str:
        if value != "*" and not re.fullmatch(r"https://[a-z0-9.-]+(:\d{1,5})?", value):
            raise ValueError("cors_origin must be '*' or an https:// origin without a path")
        return value

    @model_validator(mode="after")
    def _hosts_in_domain(self) -> "HubRequest":
        for name in ("binder_host", "hub_host"):
            host = getattr(self, name)
            if host is not None and not (host == self.domain or host.endswith("." + self.domain)):
                raise ValueError(f"{name} {host!r} is not inside the domain {self.domain!r}")
        return self

    @property
    def binder(self) -> str:
        """BinderHub's public host name."""
        return self.binder_host or f"binder.{self.domain}"

    @property
    def hub(self) -> str:
        """JupyterHub's public host name."""
        return self.hub_host or f"hub.binder.{self.domain}"

    @property
    def public_names(self) -> dict[str, str]:
        """The names the hub holds while it lives (its domain and both host names), each with the field it comes
        from: the domain's own field, or the host's field when the request sets that host."""
        held = {self.domain: "domain"}
        held.setdefault(self.binder, "binder_host" if self.binder_host else "domain")
        held.setdefault(self.hub, "hub_host" if self.hub_host else "domain")
        return held

    @classmethod
    def parse(cls, data: dict, limits: Limits, defaults: dict | None = None) -> "HubRequest":
        """Validate ``data`` over the stage ``defaults`` against the stage ``limits``.

        Without ``registry``, a request naming a DockerHub ``image_prefix`` asks for DockerHub (as every request did
        before the registry could be chosen); otherwise the stage's default registry applies.
        """
        merged = data
        if isinstance(data, dict):
            merged = {**(defaults or {}), **data}
            if "registry" not in data and "image_prefix" in data:
                merged["registry"] = "dockerhub"  # a DockerHub prefix and no registry: a request from before the choice
            if merged.get("registry") != "dockerhub" and "dockerhub_secret_arn" not in data:
                merged.pop("dockerhub_secret_arn", None)  # the stage's DockerHub account serves only DockerHub hubs
        return cls.model_validate(merged, context={"limits": limits})

    @classmethod
    def stored(cls, data: dict) -> "HubRequest":
        """A request accepted earlier, read back from the hub record or a workflow's input.

        Its shape is checked again, but not what depends on the day or the stage's
        current limits: a hub accepted in September stays valid when its term nears
        its end or when the stage narrows its instance types.
        """
        if isinstance(data, dict) and "registry" not in data:
            data = {**data, "registry": "dockerhub"}  # accepted before hubs could choose: every one used DockerHub
        return cls.model_validate(data, context={"stored": True})


class NodeSizes(_Model):
    """New sizes for a running hub's node group (its instance type stays)."""

    min_size: int | None = Field(None, ge=0)
    desired_size: int | None = Field(None, ge=0)
    max_size: int | None = Field(None, ge=1)


class HubChanges(_Model):
    """What ``PATCH /hubs/{hub_id}`` may change; the result is validated again as a whole request."""

    term_end: IsoDate | None = None
    scaling: ScalingWindow | None = Field(None, description="null: always on")
    nodes: NodeSizes | None = None
    reminder_days: int | None = Field(None, ge=1, le=60)
    archive_images: bool | None = Field(None, description="ECR: keep the hub's image repositories when it is retired")
    launch_test: LaunchTest | None = Field(None, description="the repository, cell and output the launch check uses; "
                                                             "the next check uses them")

    def apply(self, request: dict) -> dict:
        """``request`` (as stored) with these changes; fields the caller did not send stay as they were."""
        sent = self.model_dump(mode="json", exclude_unset=True)
        nodes = {**request["nodes"], **{k: v for k, v in (sent.pop("nodes", None) or {}).items() if v is not None}}
        if sent.get("launch_test") is not None:  # the fields sent change, the others stay
            sent["launch_test"] = {**(request.get("launch_test") or {}), **sent["launch_test"]}
        return {**request, **sent, "nodes": nodes}


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _limits(info: ValidationInfo) -> Limits:
    return (info.context or {}).get("limits") or Limits()


def _stored(info: ValidationInfo) -> bool:
    return bool((info.context or {}).get("stored"))
