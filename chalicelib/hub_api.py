"""The REST API's work: create, list, read, change, retire and retry hubs. ``app.py`` routes call these.

Every function receives its clients (``clients(service)``), the settings and
what the route read from the request, and returns ``(status, body)`` or raises
``ApiError``: a 4xx names what the caller got wrong (``field`` where one is at
fault), and nothing is started or written unless the input was valid.

A hub's id is ``hub-<course id>``: a course has one live hub, so a second
``POST /hubs`` for it returns that hub instead of starting another. After it is
RETIRED the course may have a new hub under the same id.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from datetime import datetime, timezone
from typing import Any, Callable

from botocore.exceptions import ClientError
from pydantic import ValidationError

from chalicelib import hub_records, hub_schedules, scaling, slack_blocks
from chalicelib.errors import CourseHubError
from chalicelib.eks_cluster import NodegroupBusy
from chalicelib.hub_request import HubChanges, HubRequest
from chalicelib.settings import Settings

Clients = Callable[[str], Any]
LIVE = ("PROVISIONING", "READY", "FAILED", "RETIRING")
PAGE_SIZE, MAX_PAGE_SIZE = 20, 100
IDEMPOTENCY_KEY = r"^[\x21-\x7e]{1,128}$"  # printable ASCII, as the Idempotency-Key draft's examples
IDEMPOTENCY_HOURS = 24
# The steps every run of a workflow records on the hub, in order ("Check DNS resolves" runs only when no
# hosted zone serves the domain, so it is not counted).
STEPS = {
    "provision": ("Create the cluster", "Check the cluster is active", "Create the node group",
                  "Check the node group is active", "Create the storage add-ons",
                  "Check the storage add-ons are active", "Install the ingress controller", "Install cert-manager",
                  "Install BinderHub", "Fix the load balancer health check", "Publish DNS",
                  "Check the certificates are issued", "Verify the hub over HTTPS", "Record the hub as ready",
                  "Schedule the hub's life"),
    "teardown": ("Uninstall the releases", "Check the load balancers and volumes are gone", "Delete the DNS records",
                 "Delete the node group", "Check the node group is deleted", "Delete the cluster",
                 "Check the cluster is deleted", "Delete the schedules", "Audit what is left"),
}


class ApiError(CourseHubError):
    """A response other than success: HTTP status, a stable code, a message and the field at fault (if one is)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None, **extra: Any):
        super().__init__(message)
        self.status, self.code, self.message, self.field, self.extra = status, code, message, field, extra

    def body(self) -> dict:
        return {"code": self.code, "message": self.message, **({"field": self.field} if self.field else {}),
                **self.extra}


# --- reading what the caller sent -------------------------------------------------------------------------------

def hub_id(value: Any) -> str:
    """A path's hub id, or 400 naming ``hub_id``."""
    if not isinstance(value, str) or not hub_records.HUB_ID.match(value):
        raise ApiError(400, "InvalidHubId", "a hub id is 'hub-' and a course id: lowercase letters, digits and '-', "
                       "48 characters at most", "hub_id")
    return value


def json_object(raw: bytes | None) -> dict:
    """The request body as a JSON object, or 400 naming ``body``."""
    if not raw:
        raise ApiError(400, "InvalidBody", "the request needs a JSON object as its body", "body")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "InvalidBody", "the body is not valid JSON", "body") from None
    except RecursionError:  # json.loads gives up on ~1000 levels of nesting
        raise ApiError(400, "InvalidBody", "the body is nested too deeply", "body") from None
    if not isinstance(body, dict):
        raise ApiError(400, "InvalidBody", "the body must be a JSON object", "body")
    return body


def idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not re.fullmatch(IDEMPOTENCY_KEY, value):
        raise ApiError(400, "InvalidIdempotencyKey", "Idempotency-Key must be 1 to 128 printable ASCII characters "
                       "without spaces", "Idempotency-Key")
    return value


def invalid(error: ValidationError, prefix: str = "") -> ApiError:
    """400 naming the first field at fault, with every problem listed."""
    problems = [{"field": prefix + (".".join(str(p) for p in e["loc"]) or "body"), "message": e["msg"]}
                for e in error.errors(include_url=False, include_input=False)]
    message = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return ApiError(400, "InvalidRequest", message, problems[0]["field"], errors=problems)


def parse_request(body: dict, settings: Settings) -> HubRequest:
    try:
        return HubRequest.parse(body, settings.limits(), settings.request_defaults())
    except ValidationError as error:
        raise invalid(error) from None


# --- the routes ---------------------------------------------------------------------------------------------------

def create(clients: Clients, settings: Settings, body: dict, key: str | None, caller: str,
           lambda_context: Any = None) -> tuple[int, dict]:
    """Record the hub and start provisioning (202); the course's live hub instead, if it has one (200)."""
    request = parse_request(body, settings)
    if key is None:
        return _create(clients, settings, request, caller)
    return _idempotent(clients("dynamodb"), settings, f"{caller} {key}", body,
                       lambda: _create(clients, settings, request, caller), lambda_context)


def _create(clients: Clients, settings: Settings, request: HubRequest, caller: str) -> tuple[int, dict]:
    settings.require("provision_state_machine_arn")
    dynamodb, table = clients("dynamodb"), settings.hub_table_name
    hub = f"hub-{request.course_id}"
    accepted = request.model_dump(mode="json")
    execution = _execution_arn(settings.provision_state_machine_arn, hub)
    item = {"hub_id": hub, "status": "PROVISIONING", "request": accepted, "steps": {}, "workflow": "provision",
            "execution_arn": execution, "created_by": caller, "created_at": hub_records.now(),
            "updated_at": hub_records.now()}
    if not hub_records.put_unless_live(dynamodb, table, item):
        return 200, view(hub_records.get(dynamodb, table, hub))
    _start(clients, settings, hub, "provision", execution, {"hub_id": hub, "request": accepted})
    return 202, view(hub_records.get(dynamodb, table, hub))


def get(clients: Clients, settings: Settings, hub: str) -> tuple[int, dict]:
    return 200, view(_record(clients, settings, hub))


def list_hubs(clients: Clients, settings: Settings, query: dict[str, str]) -> tuple[int, dict]:
    """A page of hubs (``limit``, ``status``), and the ``next`` token while there are more."""
    unknown = sorted(set(query) - {"status", "limit", "next"})
    if unknown:
        raise ApiError(400, "InvalidQuery", f"unknown query parameter {unknown[0]!r}; use status, limit, next",
                       unknown[0] or "query")  # a parameter without a name ("?=x") is still named
    status = query.get("status")
    if status is not None and status not in hub_records.STATUSES:
        raise ApiError(400, "InvalidQuery", f"status must be one of {', '.join(hub_records.STATUSES)}", "status")
    limit = query.get("limit", str(PAGE_SIZE))
    # isdigit() alone lets '²' and 5000-digit numbers through to int(), which raises: a 500
    if not (limit.isascii() and limit.isdigit() and len(limit) <= 3) or not 1 <= int(limit) <= MAX_PAGE_SIZE:
        raise ApiError(400, "InvalidQuery", f"limit must be a whole number from 1 to {MAX_PAGE_SIZE}", "limit")
    start = _decode_token(query["next"]) if "next" in query else None
    records, last = hub_records.scan(clients("dynamodb"), settings.hub_table_name, int(limit), status, start)
    return 200, {"hubs": [summary(r) for r in records], "next": _encode_token(last) if last else None}


def update(clients: Clients, settings: Settings, hub: str, body: dict, now: datetime) -> tuple[int, dict]:
    """Change the term end, scaling window, node sizes or reminder of a READY hub (applied now) or a FAILED one
    (used by the next retry)."""
    try:
        changes = HubChanges.model_validate(body)
    except ValidationError as error:
        raise invalid(error) from None
    if not body:
        raise ApiError(400, "InvalidRequest", f"nothing to change; send any of {', '.join(HubChanges.model_fields)}",
                       "body")
    if "nodes" in body and body["nodes"] is None:
        raise ApiError(400, "InvalidRequest", "a hub's nodes can be resized, not removed", "nodes")
    record = _record(clients, settings, hub)
    if record["status"] not in ("READY", "FAILED"):
        raise ApiError(409, "HubBusy", f"hub {hub} is {record['status']}; it can be changed when READY or FAILED",
                       hub_status=record["status"])
    changed = parse_request(changes.apply(record["request"]), settings)
    dynamodb, table, fields = clients("dynamodb"), settings.hub_table_name, {}
    if record["status"] == "READY":
        direction = (record.get("scale") or {}).get("direction", "up")
        if changed.nodes != HubRequest.stored(record["request"]).nodes:
            try:
                fields["scale"] = scaling.apply(clients("eks"), changed, direction, now)
            except NodegroupBusy as error:
                raise ApiError(409, "NodegroupBusy", f"{error}; try again in a few minutes") from None
        fields["schedules"] = hub_schedules.replace(clients("scheduler"), settings, hub, changed, now)
        fields["retire_at"] = hub_schedules.teardown_time(changed).isoformat()
    hub_records.update(dynamodb, table, hub, request=changed.model_dump(mode="json"), **fields)
    return 200, view(hub_records.get(dynamodb, table, hub))


def retire(clients: Clients, settings: Settings, hub: str, caller: str) -> tuple[int, dict]:
    """Start the teardown (202); a hub already retiring returns its running teardown, a retired one is 200."""
    record = _record(clients, settings, hub)
    if record["status"] == "RETIRED":
        return 200, view(record)
    if record["status"] == "RETIRING":
        return 202, view(record)
    return _teardown(clients, settings, record, f"retired through the API by {caller}")


def retry(clients: Clients, settings: Settings, hub: str, caller: str) -> tuple[int, dict]:
    """Start the failed workflow again (202): provisioning reuses what exists, a teardown goes on."""
    record = _record(clients, settings, hub)
    if record["status"] != "FAILED":
        raise ApiError(409, "HubNotFailed", f"hub {hub} is {record['status']}; only a FAILED hub can be retried",
                       hub_status=record["status"])
    if record.get("workflow") == "teardown":
        return _teardown(clients, settings, record, f"teardown retried through the API by {caller}")
    settings.require("provision_state_machine_arn")
    request = parse_request(record["request"], settings)  # today's date and the stage's limits again
    execution = _execution_arn(settings.provision_state_machine_arn, hub)
    if not _claim(clients, settings, hub, record["status"], "PROVISIONING", "provision", execution):
        return 202, view(_record(clients, settings, hub))
    _start(clients, settings, hub, "provision", execution, {"hub_id": hub, "request": request.model_dump(mode="json")})
    return 202, view(_record(clients, settings, hub))


def _teardown(clients: Clients, settings: Settings, record: dict, reason: str) -> tuple[int, dict]:
    settings.require("teardown_state_machine_arn")
    hub = record["hub_id"]
    execution = _execution_arn(settings.teardown_state_machine_arn, hub)
    if not _claim(clients, settings, hub, record["status"], "RETIRING", "teardown", execution):
        return 202, view(_record(clients, settings, hub))  # another request started it first
    if record["status"] == "PROVISIONING" and record.get("execution_arn"):
        _stop(clients("stepfunctions"), record["execution_arn"], reason)
    _start(clients, settings, hub, "teardown", execution, {"hub_id": hub, "reason": reason})
    return 202, view(_record(clients, settings, hub))


# --- what the API answers -----------------------------------------------------------------------------------------

def view(record: dict) -> dict:
    """Everything about a hub a caller may see: no secret values live on the record, only ARNs."""
    workflow = record.get("workflow") or "provision"
    expected = STEPS.get(workflow, ())
    steps = timeline(record.get("steps") or {}, expected)
    done = sum(1 for s in steps if s["outcome"] == "SUCCEEDED" and s["name"] in expected)
    execution = record.get("execution_arn")
    return {
        **summary(record),
        "workflow": workflow,
        "progress": {"done": done, "total": len(expected)},
        "steps": steps,
        "scale": record.get("scale"),
        "schedules": record.get("schedules") or {},
        "error": record.get("error"),
        "audit": record.get("audit"),
        "execution_arn": execution,
        "console_url": slack_blocks.console_url(execution) if execution else None,
        "request": record.get("request"),
        "created_by": record.get("created_by"),
        "created_at": record.get("created_at"),
    }


def summary(record: dict) -> dict:
    return {"hub_id": record["hub_id"], "course_id": (record.get("request") or {}).get("course_id"),
            "status": record["status"], "current_step": record.get("current_step"), "urls": record.get("urls"),
            "retire_at": record.get("retire_at"), "updated_at": record.get("updated_at")}


def timeline(steps: dict, order: tuple[str, ...] = ()) -> list[dict]:
    """The recorded steps in the order they started (the workflow's order within a second), with how long each
    took."""
    rank = {name: index for index, name in enumerate(order)}
    out = []
    for name, step in sorted(steps.items(), key=lambda item: (item[1].get("started_at") or "",
                                                              rank.get(item[0], len(rank)), item[0])):
        started, ended = step.get("started_at"), step.get("ended_at")
        seconds = (_time(ended) - _time(started)).total_seconds() if started and ended else None
        out.append({"name": name, "outcome": step.get("outcome"), "started_at": started, "ended_at": ended,
                    "duration_s": seconds, "detail": step.get("detail") or ""})
    return out


# --- helpers ------------------------------------------------------------------------------------------------------

def _record(clients: Clients, settings: Settings, hub: str) -> dict:
    try:
        return hub_records.get(clients("dynamodb"), settings.hub_table_name, hub_id(hub))
    except hub_records.HubNotFound:
        raise ApiError(404, "HubNotFound", f"no hub {hub}", "hub_id") from None


def _claim(clients: Clients, settings: Settings, hub: str, seen: str, status: str, workflow: str,
           execution: str) -> bool:
    """Move the hub from ``seen`` to ``status`` for a new run; False if another request changed it first."""
    return hub_records.transition(clients("dynamodb"), settings.hub_table_name, hub, seen, status,
                                  workflow=workflow, execution_arn=execution, error=None, steps={},
                                  current_step=None)


def _start(clients: Clients, settings: Settings, hub: str, workflow: str, execution: str, payload: dict) -> None:
    """Start the run named by ``execution``; if AWS refuses, the hub is FAILED with the reason (and 503)."""
    machine, name = execution.replace(":execution:", ":stateMachine:").rsplit(":", 1)
    try:
        clients("stepfunctions").start_execution(stateMachineArn=machine, name=name, input=json.dumps(payload))
    except ClientError as error:
        step = "Start provisioning" if workflow == "provision" else "Start the teardown"
        cause = error.response.get("Error", {}).get("Message", str(error))[:500]
        hub_records.set_status(clients("dynamodb"), settings.hub_table_name, hub, "FAILED",
                               error={"step": step, "error": error.response["Error"]["Code"], "cause": cause})
        raise ApiError(503, "WorkflowNotStarted", f"the {workflow} workflow could not be started ({cause}); "
                       f"POST /hubs/{hub}/retry to try again") from None


def _stop(sfn: Any, execution: str, reason: str) -> None:
    try:
        sfn.stop_execution(executionArn=execution, error="HubRetired", cause=reason[:200])
    except sfn.exceptions.ExecutionDoesNotExist:
        pass


def _execution_arn(state_machine_arn: str, hub: str) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    name = f"{hub}-{stamp}-{uuid.uuid4().hex[:6]}"  # at most 48 + 23 characters, within the 80 allowed
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"


def _idempotent(dynamodb: Any, settings: Settings, key: str, body: dict,
                run: Callable[[], tuple[int, dict]], lambda_context: Any = None) -> tuple[int, dict]:
    """Run ``run`` once per key (Powertools idempotency): a repeat gets the first answer's status and hub as it is
    now; a concurrent repeat 409; the same key with another body 422."""
    from aws_lambda_powertools.utilities.idempotency import (DynamoDBPersistenceLayer, IdempotencyConfig,
                                                             idempotent_function)
    from aws_lambda_powertools.utilities.idempotency.exceptions import (IdempotencyAlreadyInProgressError,
                                                                        IdempotencyValidationError)

    settings.require("idempotency_table_name")
    store = DynamoDBPersistenceLayer(table_name=settings.idempotency_table_name, boto3_client=dynamodb)
    config = IdempotencyConfig(event_key_jmespath="key", payload_validation_jmespath="body",
                               expires_after_seconds=IDEMPOTENCY_HOURS * 3600)
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)  # an interrupted request's key frees when the Lambda times out

    @idempotent_function(data_keyword_argument="call", persistence_store=store, config=config)
    def once(call: dict) -> dict:
        status, answer = run()
        return {"status": status, "body": answer}

    try:
        result = once(call={"key": key, "body": body})
    except IdempotencyAlreadyInProgressError:
        raise ApiError(409, "RequestInProgress", "a request with this Idempotency-Key is still being processed; "
                       "retry in a moment", "Idempotency-Key") from None
    except IdempotencyValidationError:
        raise ApiError(422, "IdempotencyKeyReused", "this Idempotency-Key was used with a different body",
                       "Idempotency-Key") from None
    return result["status"], view(hub_records.get(dynamodb, settings.hub_table_name, result["body"]["hub_id"]))


def _encode_token(key: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(key["hub_id"]).encode()).decode().rstrip("=")


def _decode_token(token: str) -> dict:
    try:
        value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        value = None
    if not isinstance(value, str) or not hub_records.HUB_ID.match(value):
        raise ApiError(400, "InvalidQuery", "next must be the token of a previous page", "next")
    return {"hub_id": value}


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def reshape(response: Any) -> Any:
    """A Chalice error response (``{"Code", "Message"}``) in the API's error shape; anything else as it is."""
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and set(body) == {"Code", "Message"}:
        code = "InternalError" if response.status_code >= 500 else body["Code"]
        message = "an internal error occurred" if response.status_code >= 500 else body["Message"]
        response.body = {"code": code, "message": message}
    return response
