"""The ``coursehub`` commands that call the REST API: create, status, list, extend, scale, retire, retry, check.

Each signs its requests (``coursehub.api_client``) for the API at ``--api-url``
(or ``COURSEHUB_API_URL``), or for the local stack's with ``--local``. An answer
the API refuses prints its code, message and field on stderr and exits 1.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from typing import Callable

from coursehub import arguments, hub_text, watch
from coursehub.arguments import STATE_FILE
from coursehub.api_client import Answer, ApiClient, ApiFailure

CREATE_ATTEMPTS, CREATE_BACKOFF_SECONDS = 4, 1.0


class NoLocalStack(Exception):
    """``--local`` without the state file ``coursehub local up`` writes."""


def add_commands(commands: argparse._SubParsersAction) -> None:
    api = argparse.ArgumentParser(add_help=False)
    arguments.add_options(api, on_command=True)

    def command(name: str, run: Callable, help: str) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, parents=[api], help=help, description=help)
        parser.set_defaults(run=lambda args: _run(run, args), parser=parser)
        return parser

    create = command("create", _create, "provision a hub from a request file and/or flags")
    arguments.create_options(create)

    status = command("status", _status, "show a hub; --watch follows its workflow to the end")
    status.add_argument("hub_id")
    arguments.watch_options(status)

    listing = command("list", _list, "list the hubs")
    listing.add_argument("--status", choices=("PROVISIONING", "READY", "FAILED", "RETIRING", "RETIRED"))
    listing.add_argument("--page-size", type=arguments.count, metavar="N",
                         help="hubs per request (the API's default: 20)")

    extend = command("extend", _extend, "move the term end (the teardown and reminder follow)")
    extend.add_argument("hub_id")
    extend.add_argument("--term-end", type=arguments.date_text, required=True, metavar="YYYY-MM-DD")

    scale = command("scale", _scale, "resize the node group or change the nightly scaling window")
    scale.add_argument("hub_id")
    arguments.scale_options(scale)

    for name, run, text in (("retire", _retire, "tear the hub down now"),
                            ("retry", _retry, "run a FAILED hub's workflow again")):
        parser = command(name, run, text)
        parser.add_argument("hub_id")
        arguments.watch_options(parser)

    check = command("check", _check, "launch the hub's test repository and run a cell, as a student would")
    check.add_argument("hub_id")
    arguments.watch_options(check)


def client(args: argparse.Namespace) -> ApiClient:
    """The API client the options ask for."""
    if args.local or args.local_file:
        path = args.local_file or STATE_FILE
        if not path.is_file():
            raise NoLocalStack(f"no local stack: {path} not found; start one with `coursehub local up`")
        return ApiClient.local(json.loads(path.read_text()))
    url = args.api_url or os.environ.get("COURSEHUB_API_URL")
    if not url:
        args.parser.error("no API to call: give --api-url URL, set COURSEHUB_API_URL, or use --local")
    return ApiClient.deployed(url, args.region)


def _run(command: Callable[[ApiClient, argparse.Namespace], int], args: argparse.Namespace) -> int:
    api = None
    try:
        api = client(args)
        return command(api, args)
    except ApiFailure as error:
        body = error.answer.body if isinstance(error.answer.body, dict) else {}
        print(f"coursehub {args.command}: {body.get('code', 'Error')} (HTTP {error.answer.status}): "
              f"{body.get('message', error.answer.body)}", file=sys.stderr)
        if body.get("field"):
            print(f"  field: {body['field']}", file=sys.stderr)
        return 1
    except NoLocalStack as error:
        print(f"coursehub {args.command}: {error}", file=sys.stderr)
        return 1
    except watch.NETWORK_ERRORS as error:
        print(f"coursehub {args.command}: cannot reach the API at {api.url if api else '?'}: "
              f"{getattr(error, 'reason', error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopped watching; the workflow goes on", file=sys.stderr)
        return 130


def _create(api: ApiClient, args: argparse.Namespace) -> int:
    request = arguments.request(args)
    key = args.idempotency_key or str(uuid.uuid4())
    answer = _with_retries(lambda: api.create(request, idempotency_key=key))
    hub = answer.body
    if not args.json:
        started = "provisioning started" if answer.status == 202 else "the course's hub already exists"
        print(f"{hub['hub_id']}: {started} ({hub['status']}); Idempotency-Key {key}")
    return _follow_or_show(api, args, hub, show=lambda: None)


def _status(api: ApiClient, args: argparse.Namespace) -> int:
    hub = api.get(args.hub_id).body
    return _follow_or_show(api, args, hub, show=lambda: print("\n".join(hub_text.hub(hub))))


def _list(api: ApiClient, args: argparse.Namespace) -> int:
    hubs, token = [], None
    while True:
        page = api.hubs(status=args.status, limit=args.page_size, next_token=token).body
        hubs += page["hubs"]
        token = page.get("next")
        if not token:
            break
    print(json.dumps({"hubs": hubs}, indent=2) if args.json else "\n".join(hub_text.hubs(hubs)))
    return 0


def _extend(api: ApiClient, args: argparse.Namespace) -> int:
    hub = api.update(args.hub_id, {"term_end": args.term_end}).body
    if args.json:
        print(json.dumps(hub, indent=2))
    elif hub["status"] == "READY":
        print(f"{hub['hub_id']}: the term ends {args.term_end}; the hub retires at {hub.get('retire_at')}")
    else:
        print(f"{hub['hub_id']} is {hub['status']}: the term end {args.term_end} applies when it is retried")
    return 0


def _scale(api: ApiClient, args: argparse.Namespace) -> int:
    changes = arguments.scale_changes(args)
    hub = api.update(args.hub_id, changes).body
    if args.json:
        print(json.dumps(hub, indent=2))
    else:
        print(f"{hub['hub_id']} ({hub['status']}): nodes {hub_text.nodes(hub)}; scaling {hub_text.scaling(hub)}")
    return 0


def _retire(api: ApiClient, args: argparse.Namespace) -> int:
    answer = api.retire(args.hub_id)
    if not args.json:
        print(f"{args.hub_id}: " + ("teardown started" if answer.status == 202 and answer.body["status"] == "RETIRING"
                                     else f"already {answer.body['status']}"))
    return _follow_or_show(api, args, answer.body, show=lambda: None)


def _retry(api: ApiClient, args: argparse.Namespace) -> int:
    hub = api.retry(args.hub_id).body
    if not args.json:
        print(f"{hub['hub_id']}: {hub.get('workflow', 'provision')} started again ({hub['status']})")
    return _follow_or_show(api, args, hub, show=lambda: None)


def _check(api: ApiClient, args: argparse.Namespace) -> int:
    """Start the launch check; with --watch, follow it to its end (exit 1 unless it passed)."""
    hub = api.check(args.hub_id).body
    if not getattr(args, "watch", False):
        print(json.dumps(hub, indent=2) if args.json else f"{hub['hub_id']}: launch check started; "
              f"{hub_text.launch_check(hub.get('launch_check') or {})}")
        return 0
    started = (hub.get("launch_check") or {}).get("execution_arn")
    deadline, said = time.monotonic() + args.timeout, None
    while True:
        check = hub.get("launch_check") or {}
        line = hub_text.launch_check(check)
        if line != said and not args.json:
            print(f"  {line}")
            said = line
        if check.get("execution_arn") == started and check.get("status") in ("PASSED", "FAILED"):
            break
        if time.monotonic() > deadline:
            print(f"coursehub check: no result after {args.timeout:g} s; the check goes on", file=sys.stderr)
            return 1
        time.sleep(args.interval)
        hub = api.get(args.hub_id).body
    if args.json:
        print(json.dumps(hub, indent=2))
    return 0 if check.get("status") == "PASSED" else 1


def _follow_or_show(api: ApiClient, args: argparse.Namespace, hub: dict, show: Callable[[], None]) -> int:
    """With --watch, follow the hub to the end of its run (exit 1 unless READY or RETIRED); else show it."""
    if getattr(args, "watch", False):
        outcome = watch.follow(lambda: api.get(hub["hub_id"]).body, first=hub, interval=args.interval,
                               timeout=args.timeout, out=sys.stderr if args.json else sys.stdout)
        if args.json:
            print(json.dumps(outcome.hub, indent=2))
        return 0 if outcome.ok else 1
    if args.json:
        print(json.dumps(hub, indent=2))
    else:
        show()
    return 0


def _with_retries(call: Callable[[], Answer]) -> Answer:
    """``call``, tried again (with the same Idempotency-Key) after a network error or while the first try is still
    being processed."""
    for attempt in range(CREATE_ATTEMPTS):
        last = attempt == CREATE_ATTEMPTS - 1
        try:
            return call()
        except ApiFailure as error:
            body = error.answer.body if isinstance(error.answer.body, dict) else {}
            if last or body.get("code") != "RequestInProgress":
                raise
        except watch.NETWORK_ERRORS as error:
            if last:
                raise
            print(f"  (cannot reach the API: {getattr(error, 'reason', error)}; trying again with the same "
                  "Idempotency-Key)", file=sys.stderr)
        time.sleep(CREATE_BACKOFF_SECONDS * 2 ** attempt)
    raise AssertionError("unreachable")
