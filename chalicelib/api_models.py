"""What the REST API answers, as pydantic models: the shapes ``hub_api.view()``, ``summary()`` and ``ApiError`` build.

Only the OpenAPI generator (``coursehub/openapi.py``) and the tests use these;
the API itself builds plain dicts, so a Lambda never imports this module.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema

from chalicelib.hub_records import HUB_ID, STATUSES

Status = Literal[STATUSES]  # type: ignore[valid-type]  # the statuses a hub record can have


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _absent(description: str) -> Any:
    """A key the answer leaves out when it does not apply: optional in the schema, never null."""
    return Field(None, description=description, json_schema_extra=lambda schema: schema.pop("default", None))


class Problem(_Answer):
    """One thing wrong with the request body."""

    field: str = Field(description="dotted path of the field, or 'body'")
    message: str


class Error(_Answer):
    """Every 4xx and 5xx: a stable ``code``, a message for people, and the field at fault where one is."""

    code: str = Field(description="stable, for programs: InvalidRequest, HubNotFound, HubBusy, NameTaken, ...")
    message: str
    field: str | SkipJsonSchema[None] = _absent("the body field, path or query parameter or header at fault")
    errors: list[Problem] | SkipJsonSchema[None] = _absent("InvalidRequest: every problem found")
    hub_id: str | SkipJsonSchema[None] = _absent("NameTaken: the live hub that holds the name")
    hub_status: Status | SkipJsonSchema[None] = _absent("HubBusy, HubNotFailed: the hub's status; NameTaken: the "
                                                        "status of the hub that holds the name")


class Urls(_Answer):
    """The hub's public HTTPS addresses, once it is READY."""

    binder: str
    hub: str


class Summary(_Answer):
    """One hub in a list: who it is, where it is in its life, where to reach it."""

    hub_id: str = Field(pattern=HUB_ID.pattern)
    course_id: str | None
    status: Status
    current_step: str | None = Field(description="the step running or last run")
    urls: Urls | None
    retire_at: str | None = Field(description="when the term-end teardown runs (ISO 8601)")
    updated_at: str | None


class Page(_Answer):
    """A page of hubs, and the token of the next page while there are more."""

    hubs: list[Summary]
    next: str | None = Field(description="pass as ?next= for the next page; null on the last one")


class Progress(_Answer):
    done: int = Field(ge=0, description="the workflow's steps that succeeded")
    total: int = Field(ge=0)


class Step(_Answer):
    """A step of the current workflow, as recorded on the hub."""

    name: str
    outcome: Literal["RUNNING", "SUCCEEDED", "FAILED"] | None
    started_at: str | None
    ended_at: str | None
    duration_s: float | None
    detail: str


class Scale(_Answer):
    """The node group's sizes as last set (provisioning, nightly scaling or a PATCH)."""

    direction: Literal["up", "down"]
    min_size: int
    desired_size: int
    max_size: int
    at: str | SkipJsonSchema[None] = _absent("when it was last scaled (ISO 8601); absent until the first scaling")


class Schedule(_Answer):
    expression: str = Field(description="EventBridge Scheduler at(), cron() or rate() expression")
    timezone: str


class RegistryLogin(_Answer):
    """An ECR hub's build login: when its schedule last renewed it and when that login expires (ISO 8601)."""

    renewed_at: str
    expires_at: str


class LaunchCheck(_Answer):
    """The last launch check: a test repository built, launched and a cell run, as a student would."""

    status: Literal["RUNNING", "PASSED", "FAILED"]
    purpose: Literal["provisioning", "on demand", "morning"]
    repository: str
    phase: str = Field(description="build, push, schedule, connect or execute (where it is or failed); done")
    started_at: str
    ended_at: str | SkipJsonSchema[None] = _absent("when it ended (ISO 8601); absent while it runs")
    time_to_first_output_seconds: float | None | SkipJsonSchema[None] = _absent(
        "from the build request to the cell's first output, as the check saw it; absent until it passed")
    output: str | None | SkipJsonSchema[None] = _absent("what the cell printed")
    error: str | SkipJsonSchema[None] = _absent("a failed check's error name")
    cause: str | SkipJsonSchema[None] = _absent("a failed check's cause, from BinderHub's event stream or the kernel")
    detail: str | SkipJsonSchema[None] = _absent("what a running check saw last")
    execution_arn: str | None | SkipJsonSchema[None] = _absent("the check's run")


class Failure(_Answer):
    """Why the last workflow run failed."""

    step: str
    error: str
    cause: str


class Audit(_Answer):
    """What the teardown's audit found, cleaned and left (by kind of resource), and its one-line summary."""

    clean: bool | None
    found: dict[str, list[str]] | None
    cleaned: dict[str, list[str]] | None
    remaining: dict[str, list[dict[str, Any]]] | None
    summary: str | None


class Hub(Summary):
    """Everything about a hub a caller may see; secrets appear only as Secrets Manager ARNs."""

    workflow: Literal["provision", "teardown"] = Field(description="the workflow of the current or last run")
    progress: Progress
    steps: list[Step]
    scale: Scale | None
    schedules: dict[str, Schedule] | Annotated[list[Any], Field(max_length=0)] = Field(
        description="by schedule name; an empty list before any schedule exists")
    registry_login: RegistryLogin | None = Field(description="an ECR hub's; null before its first renewal")
    launch_check: LaunchCheck | None = Field(description="the last launch check; null before the first")
    error: Failure | None
    audit: Audit | None
    execution_arn: str | None
    console_url: str | None
    request: Annotated[dict[str, Any] | None, WithJsonSchema(
        {"anyOf": [{"$ref": "#/components/schemas/HubRequest"}, {"type": "null"}],
         "description": "the request as accepted, with the stage's defaults filled in"})]
    created_by: str | None = Field(description="the IAM identity that asked for the hub")
    created_at: str | None


RESPONSE_MODELS = (Hub, Page, Error)
