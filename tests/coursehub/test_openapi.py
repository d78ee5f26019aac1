"""docs/openapi.json is the API as the code has it: same routes and methods, valid OpenAPI 3.1, and its schemas
accept what the API answers."""
from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from openapi_spec_validator import validate
from pydantic import ValidationError

import app
from chalicelib import api_errors, api_input, api_views, hub_api, workflow_runs
from chalicelib.hub_request import HubRequest, Limits
from coursehub import openapi
from coursehub.demo import sample_request

SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:coursehub/{}"


@pytest.fixture(scope="module")
def document() -> dict:
    return openapi.document()


def test_the_written_document_is_the_generated_one():
    diff = openapi.check()
    assert not diff, "docs/openapi.json is out of date; run `make openapi`:\n" + "\n".join(diff[:40])


def test_check_exits_1_and_says_what_differs_when_the_document_drifted(tmp_path, monkeypatch, capsys):
    drifted = json.loads(openapi.render())
    drifted["paths"]["/hubs"]["get"]["summary"] = "something else"
    monkeypatch.setattr(openapi, "DOCUMENT", tmp_path / "openapi.json")
    (tmp_path / "openapi.json").write_text(json.dumps(drifted, indent=2, sort_keys=True) + "\n")
    assert openapi.main(["--check"]) == 1
    assert '-        "summary": "something else",' in capsys.readouterr().err
    assert openapi.main([]) == 0 and openapi.main(["--check"]) == 0


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_route_appears_with_its_methods(document):
    routes = {path: {method.lower() for method in methods} for path, methods in app.app.routes.items()}
    assert {path: set(operations) for path, operations in document["paths"].items()} == routes
    for path, methods in app.app.routes.items():
        for method, route in methods.items():
            operation = document["paths"][path][method.lower()]
            assert operation["operationId"] == route.view_name
            assert operation["summary"] == route.view_function.__doc__.splitlines()[0]
            assert [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"] == route.view_args


def test_every_operation_is_signed_with_sigv4(document):
    scheme = document["components"]["securitySchemes"]["sigv4"]
    assert scheme == {**scheme, "type": "apiKey", "name": "Authorization", "in": "header",
                      "x-amazon-apigateway-authtype": "awsSigv4"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation["security"] == [{"sigv4": []}], f"{method} {path}"
            assert "403" in operation["responses"], f"{method} {path}"


def test_the_parameters_and_bodies_are_the_ones_the_api_reads(document):
    post = document["paths"]["/hubs"]["post"]
    assert [(p["name"], p["in"]) for p in post["parameters"]] == [("Idempotency-Key", "header")]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/HubRequest"}
    patch = document["paths"]["/hubs/{hub_id}"]["patch"]
    assert patch["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/HubChanges"}
    listing = {p["name"]: p["schema"] for p in document["paths"]["/hubs"]["get"]["parameters"]}
    assert listing["status"]["enum"] == ["PROVISIONING", "READY", "FAILED", "RETIRING", "RETIRED"]
    assert (listing["limit"]["minimum"], listing["limit"]["maximum"]) == (1, 100)
    assert "next" in listing
    # The secrets the stage provides may be left out of a POST.
    assert "dockerhub_secret_arn" not in document["components"]["schemas"]["HubRequest"]["required"]
    refs = re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(document))
    assert set(refs) <= set(document["components"]["schemas"])


def test_every_error_code_the_api_raises_is_documented_with_its_status(document):
    source = "".join(Path(m.__file__).read_text() for m in (api_input, api_views, hub_api, workflow_runs))
    raised = set(re.findall(r'ApiError\(\s*(\d{3}),\s*"(\w+)"', source))
    assert len(raised) >= 12
    documented = {(status, code) for operations in document["paths"].values() for operation in operations.values()
                  for status, answer in operation["responses"].items()
                  for code in answer.get("content", {}).get("application/json", {}).get("schema", {})
                  .get("allOf", [{}, {}])[1].get("properties", {}).get("code", {}).get("enum", [])}
    assert raised - documented == set()


def _validate(document: dict, method: str, path: str, status: int, body: dict) -> None:
    jsonschema.validate(body, openapi.answer_schema(document, method, path, status))


def test_a_hub_as_the_api_shows_it_matches_the_schemas(document):
    request = HubRequest.parse(sample_request(), Limits(), {f"{name}_secret_arn": SECRET.format(name) for name in
                                                            ("dockerhub", "github_token", "slack_webhook")})
    record = {"hub_id": "hub-cs101", "status": "READY", "request": request.model_dump(mode="json"),
              "workflow": "provision", "current_step": "Schedule the hub's life",
              "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:coursehub-dev-provision:hub-cs101-1",
              "steps": {"Create the cluster": {"started_at": "2026-09-01T10:00:00+00:00", "outcome": "SUCCEEDED",
                                               "ended_at": "2026-09-01T10:12:00+00:00", "detail": "ACTIVE"},
                        "Publish DNS": {"started_at": "2026-09-01T10:30:00+00:00", "outcome": "RUNNING"}},
              "urls": {"binder": "https://binder.courses.example.edu", "hub": "https://hub.binder.courses.example.edu"},
              "scale": {"direction": "up", "min_size": 1, "desired_size": 2, "max_size": 4},
              "schedules": {"hub-cs101-teardown": {"expression": "at(2027-05-28T23:00:00)",
                                                   "timezone": "America/New_York"}},
              "created_by": "arn:aws:iam::123456789012:user/me", "created_at": "2026-09-01T10:00:00+00:00",
              "updated_at": "2026-09-01T11:00:00+00:00", "retire_at": "2027-05-28T23:00:00-04:00"}
    retired = {**record, "status": "RETIRED", "workflow": "teardown", "schedules": {}, "urls": None,
               "error": {"step": "Delete the cluster", "error": "ClusterStillExists", "cause": "still there"},
               "audit": {"clean": True, "found": {}, "cleaned": {}, "remaining": {}, "summary": "nothing left"}}
    for hub in (record, retired, {"hub_id": "hub-x", "status": "PROVISIONING"}):
        _validate(document, "GET", "/hubs/{hub_id}", 200, api_views.view(hub))
        _validate(document, "POST", "/hubs", 202, api_views.view(hub))
    _validate(document, "GET", "/hubs", 200, {"hubs": [api_views.summary(record)], "next": "Imh1Yi14Ig"})


def test_the_api_errors_match_the_error_schema(document):
    try:
        HubRequest.parse({"course_id": "CS 101", "nodes": {"max_size": 0}}, Limits())
    except ValidationError as error:
        invalid = api_input.invalid(error)
    _validate(document, "POST", "/hubs", 400, invalid.body())
    busy = api_errors.ApiError(409, "HubBusy", "hub hub-x is RETIRING", hub_status="RETIRING")
    _validate(document, "PATCH", "/hubs/{hub_id}", 409, busy.body())
    with pytest.raises(jsonschema.ValidationError):  # a code the route does not answer with
        _validate(document, "GET", "/hubs/{hub_id}", 404, api_errors.ApiError(404, "HubBusy", "no").body())
