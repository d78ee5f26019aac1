"""The REST API's OpenAPI 3.1 document, generated from the code: the Chalice routes and their docstrings, the request
models (``chalicelib/hub_request.py``) and the answer models (``chalicelib/api_models.py``).

    python -m coursehub.openapi           # write docs/openapi.json (make openapi)
    python -m coursehub.openapi --check   # exit 1, saying what differs, if docs/openapi.json is out of date
"""
from __future__ import annotations

import argparse
import difflib
import inspect
import json
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "docs" / "openapi.json"
SCHEMAS = "#/components/schemas/"
SIGV4 = {"type": "apiKey", "name": "Authorization", "in": "header", "x-amazon-apigateway-authtype": "awsSigv4",
         "description": "AWS Signature Version 4 (service execute-api) with IAM credentials allowed to invoke the API"}
DESCRIPTION = """\
Provision, list, change, retire, retry and check course BinderHubs. Every request is signed with SigV4 (IAM
authorization); API Gateway refuses an unsigned or badly signed one with 403. Every answer other than 2xx has the
body `{"code", "message"}`, with `field` naming the body field, path or query parameter or header at fault where
one is. A hub's id is `hub-<course id>`: a course has one live hub at a time, and a domain and each host name
belong to one live hub (until it is RETIRED): another hub asking for one gets 409 `NameTaken` naming it."""


@dataclass(frozen=True)
class Operation:
    """What a route answers (as ``chalicelib/hub_api.py`` does), beyond what its code and docstring tell."""

    success: dict[int, str]  # status -> what it means; the body is ``answer``
    errors: dict[int, tuple[str, ...]]  # status -> the error codes it may carry
    answer: str = "Hub"
    body: str | None = None  # the request model, if the route reads a JSON body
    parameters: tuple[dict, ...] = ()


def operations() -> dict[tuple[str, str], Operation]:
    """Every route of the API by (method, path); a route missing here fails the generator."""
    from chalicelib import api_input, hub_records, workflow_runs

    hub_errors = {400: ("InvalidHubId",), 404: ("HubNotFound",)}
    idempotency_key = {"name": "Idempotency-Key", "in": "header", "required": False,
                       "description": f"makes a retried POST safe: for {workflow_runs.IDEMPOTENCY_HOURS} hours the same "
                                      "key and body get the first answer, the same key with another body 422",
                       "schema": {"type": "string", "pattern": api_input.IDEMPOTENCY_KEY, "maxLength": 128}}
    query = (
        {"name": "status", "in": "query", "required": False, "description": "only hubs with this status",
         "schema": {"type": "string", "enum": list(hub_records.STATUSES)}},
        {"name": "limit", "in": "query", "required": False, "description": "hubs per page",
         "schema": {"type": "integer", "minimum": 1, "maximum": api_input.MAX_PAGE_SIZE, "default": api_input.PAGE_SIZE}},
        {"name": "next", "in": "query", "required": False, "description": "the previous page's `next`",
         "schema": {"type": "string"}},
    )
    return {
        ("POST", "/hubs"): Operation(
            {202: "provisioning started; Location names the hub", 200: "the course's live hub; nothing started"},
            {400: ("InvalidBody", "InvalidRequest", "InvalidIdempotencyKey"),
             409: ("RequestInProgress", "NameTaken", "NameBusy"),
             422: ("IdempotencyKeyReused",), 503: ("WorkflowNotStarted",)},
            body="HubRequest", parameters=(idempotency_key,)),
        ("GET", "/hubs"): Operation({200: "a page of hubs"}, {400: ("InvalidQuery",)}, answer="Page",
                                    parameters=query),
        ("GET", "/hubs/{hub_id}"): Operation({200: "the hub"}, hub_errors),
        ("PATCH", "/hubs/{hub_id}"): Operation(
            {200: "the hub as changed; a READY hub's schedules and node group follow at once"},
            {**hub_errors, 400: ("InvalidHubId", "InvalidBody", "InvalidRequest"), 409: ("HubBusy", "NodegroupBusy")},
            body="HubChanges"),
        ("DELETE", "/hubs/{hub_id}"): Operation(
            {202: "the teardown started, or the one already running", 200: "the hub, already RETIRED"},
            {**hub_errors, 503: ("WorkflowNotStarted",)}),
        ("POST", "/hubs/{hub_id}/retry"): Operation(
            {202: "the failed workflow started again"},
            {**hub_errors, 400: ("InvalidHubId", "InvalidRequest"), 409: ("HubNotFailed",),
             503: ("WorkflowNotStarted",)}),
        ("POST", "/hubs/{hub_id}/check"): Operation(
            {202: "the launch check started (or the one already running): the hub's launch_check shows it, and its "
                  "result goes to Slack"},
            {**hub_errors, 409: ("HubNotReady",), 503: ("CheckNotStarted",)}),
    }


def document() -> dict:
    """The OpenAPI document of the app's routes."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # app.py lives at the project root
    import app
    from chalicelib import hub_records

    described = operations()
    path_parameter = {"hub_id": {"type": "string", "pattern": hub_records.HUB_ID.pattern}}
    paths: dict[str, dict] = {}
    for path, methods in sorted(app.app.routes.items()):
        for method, route in sorted(methods.items()):
            if (method, path) not in described:
                raise KeyError(f"route {method} {path} is not described in coursehub/openapi.py operations()")
            paths.setdefault(path, {})[method.lower()] = _operation(
                route, described[(method, path)], [{"name": name, "in": "path", "required": True,
                                                    "schema": path_parameter[name]} for name in route.view_args])
    return {
        "openapi": "3.1.0",
        "info": {"title": "CourseHub API", "version": _version(), "description": DESCRIPTION},
        "servers": [{"url": "https://{api_id}.execute-api.{region}.amazonaws.com/api",
                     "description": "a deployment (Chalice's API Gateway stage is `api`)",
                     "variables": {"api_id": {"default": "example"}, "region": {"default": "us-east-1"}}},
                    {"url": "http://127.0.0.1:{port}", "description": "the local stack: api_url in "
                     ".coursehub/local.json", "variables": {"port": {"default": "8000"}}}],
        "security": [{"sigv4": []}],
        "tags": [{"name": "hubs", "description": "course BinderHubs"}],
        "paths": paths,
        "components": {"securitySchemes": {"sigv4": SIGV4}, "schemas": schemas(), "responses": _shared_responses()},
    }


def schemas() -> dict:
    """The request and answer models' JSON schemas, each nested model under its own name."""
    from pydantic.json_schema import models_json_schema

    from chalicelib import api_models
    from chalicelib.hub_request import HubChanges, HubRequest
    from chalicelib.settings import Settings

    models = [(HubRequest, "validation"), (HubChanges, "validation")]
    models += [(model, "serialization") for model in api_models.RESPONSE_MODELS]
    _, found = models_json_schema(models, ref_template=SCHEMAS + "{model}")
    out = found["$defs"]
    # A POST may leave out the secrets the stage provides (HubRequest.parse merges them in first).
    everything = Settings("stage", "table", "arn", dockerhub_secret_arn="arn", github_token_secret_arn="arn")
    stage_filled = set(everything.request_defaults())
    request = out["HubRequest"]
    request["required"] = [name for name in request["required"] if name not in stage_filled]
    for name in sorted(stage_filled):
        request["properties"][name]["description"] = "default: the stage's secret"
    return out


def _operation(route: Any, described: Operation, path_parameters: list[dict]) -> dict:
    doc = inspect.cleandoc(route.view_function.__doc__ or "")
    if not doc:
        raise ValueError(f"view {route.view_name} needs a docstring: it is the operation's summary")
    responses = {str(status): _answer(described.answer, text, status)
                 for status, text in described.success.items()}
    for status, codes in described.errors.items():
        responses[str(status)] = _error(codes)
    responses["403"] = {"$ref": "#/components/responses/Refused"}
    responses["414"] = {"$ref": "#/components/responses/UriTooLong"}
    responses["415"] = {"$ref": "#/components/responses/UnsupportedMediaType"}
    summary, _, rest = doc.partition("\n")
    operation = {
        "operationId": route.view_name,
        "summary": summary,
        **({"description": doc} if rest.strip() else {}),
        "tags": ["hubs"],
        "parameters": path_parameters + list(described.parameters),
        "responses": responses,
        "security": [{"sigv4": []}] if route.authorizer is not None else [],
    }
    if described.body:
        operation["requestBody"] = {"required": True, "content": {
            content_type: {"schema": {"$ref": SCHEMAS + described.body}} for content_type in route.content_types}}
    if not operation["parameters"]:
        del operation["parameters"]
    return operation


def _answer(model: str, description: str, status: int) -> dict:
    answer = {"description": description, "content": {"application/json": {"schema": {"$ref": SCHEMAS + model}}}}
    if status == 202:
        answer["headers"] = {"Location": {"description": "the hub: /hubs/{hub_id}", "schema": {"type": "string"}}}
    return answer


def _error(codes: tuple[str, ...], description: str = "") -> dict:
    schema = {"allOf": [{"$ref": SCHEMAS + "Error"}, {"properties": {"code": {"enum": list(codes)}}}]}
    listed = ", ".join(codes[:-1]) + " or " + codes[-1] if len(codes) > 1 else codes[0]
    return {"description": description or listed,
            "content": {"application/json": {"schema": schema}}}


def _shared_responses() -> dict:
    return {
        "Refused": {"description": "API Gateway refused the request: no or a bad SigV4 signature, an unknown key, "
                                   "a request older than 5 minutes (`code` is API Gateway's response type)",
                    "content": {"application/json": {"schema": {"$ref": SCHEMAS + "Error"}}}},
        "UnsupportedMediaType": _error(("UnsupportedMediaType",), "a Content-Type other than application/json"),
        "UriTooLong": {"description": "API Gateway refused the request before anything ran: its URL is longer than the "
                                      "REST API quota (8192 characters for an edge-optimized API)",
                       "content": {"application/json": {"schema": {"$ref": SCHEMAS + "Error"}}}},
    }


def _version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def answer_schema(document: dict, method: str, path: str, status: int) -> dict | None:
    """The JSON schema of the body ``method path`` answers with ``status`` (None if undocumented), resolvable on its
    own: it carries the document's components, so ``jsonschema`` follows its ``$ref``s."""
    answer = document["paths"].get(path, {}).get(method.lower(), {}).get("responses", {}).get(str(status))
    if answer is None:
        return None
    if "$ref" in answer:
        answer = document["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
    return {**answer["content"]["application/json"]["schema"], "components": document["components"]}


def render() -> str:
    """The document as written to docs/openapi.json: sorted keys, two-space indent, one final newline."""
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def check(path: Path = DOCUMENT) -> list[str]:
    """What differs between ``path`` and the generated document (a unified diff); empty if nothing."""
    written = path.read_text() if path.exists() else ""
    return list(difflib.unified_diff(written.splitlines(), render().splitlines(), f"{path.name} (written)",
                                     f"{path.name} (from the code)", lineterm="", n=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursehub.openapi", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/openapi.json is out of date")
    args = parser.parse_args(argv)
    if not args.check:
        DOCUMENT.parent.mkdir(parents=True, exist_ok=True)
        DOCUMENT.write_text(render())
        print(f"wrote {DOCUMENT}")
        return 0
    diff = check(DOCUMENT)
    if not diff:
        print(f"{DOCUMENT} is up to date")
        return 0
    changed = sum(1 for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---"))
    print(f"{DOCUMENT} is out of date ({changed} lines differ); run `make openapi`:",
          *diff[:40], *(["..."] if len(diff) > 40 else []), sep="\n", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
