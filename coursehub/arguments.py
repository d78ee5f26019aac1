"""The options and arguments of the ``coursehub`` API commands, and the hub request they build."""
from __future__ import annotations

import argparse
import json
import re
from datetime import date
from pathlib import Path

STATE_FILE = Path(".coursehub") / "local.json"
REQUIRED_FLAGS = ("course_id", "domain", "term_end", "acme_email")
OPTIONAL_FLAGS = ("timezone", "registry", "image_prefix")


def add_options(parser: argparse.ArgumentParser, *, on_command: bool) -> None:
    """The API options, accepted before the command and after it (``on_command``: only when given)."""
    default = (lambda value: argparse.SUPPRESS) if on_command else (lambda value: value)
    parser.add_argument("--api-url", default=default(None), help="the API's URL (default: $COURSEHUB_API_URL)")
    parser.add_argument("--region", default=default(None), help="the API's region (default: from the URL)")
    parser.add_argument("--local", action="store_true", default=default(False),
                        help=f"use the local stack's API, as described in {STATE_FILE} by `coursehub local up`")
    parser.add_argument("--local-file", type=Path, default=default(None), metavar="PATH",
                        help=f"the local stack's details (implies --local; default {STATE_FILE})")
    parser.add_argument("--json", action="store_true", default=default(False), help="print the API's JSON answer")


def create_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", help="a hub request (JSON), e.g. examples/cs101.json; flags override it")
    parser.add_argument("--course-id")
    parser.add_argument("--domain")
    parser.add_argument("--term-end", type=date_text, metavar="YYYY-MM-DD")
    parser.add_argument("--registry", choices=("ecr", "dockerhub"),
                        help="where built images go (default: the stage's, ECR where it allows it)")
    parser.add_argument("--image-prefix", metavar="USER/PREFIX-", help="DockerHub only: the images' prefix")
    parser.add_argument("--acme-email")
    parser.add_argument("--timezone", help="the course's time zone, e.g. America/New_York (default UTC)")
    parser.add_argument("--instance-type")
    size_options(parser)
    parser.add_argument("--idempotency-key", help="sent as Idempotency-Key (default: a new UUID)")
    watch_options(parser)


def scale_options(parser: argparse.ArgumentParser) -> None:
    size_options(parser)
    parser.add_argument("--down-at", type=time_of_day, metavar="HH:MM",
                        help="scale to zero at (the course's time zone)")
    parser.add_argument("--up-at", type=time_of_day, metavar="HH:MM", help="scale back up at")
    parser.add_argument("--weekends", action="store_true", help="scale up and down on weekends too "
                        "(default: stay at zero on Saturdays and Sundays)")
    parser.add_argument("--always-on", action="store_true", help="no nightly scaling")


def scale_changes(args: argparse.Namespace) -> dict:
    """The PATCH body of ``coursehub scale``; a usage error if the options do not make one."""
    changes: dict = {}
    sizes = {k: v for k, v in (("min_size", args.min), ("desired_size", args.desired), ("max_size", args.max))
             if v is not None}
    if sizes:
        changes["nodes"] = sizes
    if args.always_on and (args.down_at or args.up_at or args.weekends):
        args.parser.error("--always-on cannot go with --down-at, --up-at or --weekends")
    if bool(args.down_at) != bool(args.up_at):
        args.parser.error("--down-at and --up-at go together")
    if args.weekends and not args.down_at:
        args.parser.error("--weekends needs --down-at and --up-at")
    if args.always_on:
        changes["scaling"] = None
    elif args.down_at:
        changes["scaling"] = {"down_at": args.down_at, "up_at": args.up_at, "weekdays_only": not args.weekends}
    if not changes:
        args.parser.error("nothing to change: give --min/--desired/--max, --down-at and --up-at, or --always-on")
    return changes


def request(args: argparse.Namespace) -> dict:
    """The request file's JSON with the flags over it."""
    body: dict = {}
    if args.file:
        try:
            body = json.loads(Path(args.file).read_text())
        except (OSError, ValueError) as error:
            args.parser.error(f"cannot read the request {args.file}: {error}")
        if not isinstance(body, dict):
            args.parser.error(f"the request {args.file} is not a JSON object")
    else:
        missing = [f"--{name.replace('_', '-')}" for name in REQUIRED_FLAGS if getattr(args, name) is None]
        if missing:
            args.parser.error(f"give a request file, or {', '.join(missing)}")
    body.update({name: getattr(args, name) for name in (*REQUIRED_FLAGS, *OPTIONAL_FLAGS)
                    if getattr(args, name) is not None})
    nodes = {k: v for k, v in (("instance_type", args.instance_type), ("min_size", args.min),
                               ("desired_size", args.desired), ("max_size", args.max)) if v is not None}
    if nodes:
        body["nodes"] = {**(body.get("nodes") or {}), **nodes}
    return body


def size_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--min", type=count, metavar="N", help="fewest nodes")
    parser.add_argument("--desired", type=count, metavar="N", help="nodes to run")
    parser.add_argument("--max", type=count, metavar="N", help="most nodes")


def watch_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--watch", action="store_true", help="follow the run until READY, RETIRED or FAILED "
                        "(exit 1 unless READY or RETIRED)")
    parser.add_argument("--interval", type=positive, default=1.0, metavar="S", help="seconds between polls (1)")
    parser.add_argument("--timeout", type=positive, default=3600.0, metavar="S",
                        help="stop watching after this many seconds (3600)")


def date_text(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def time_of_day(text: str) -> str:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", text):
        raise argparse.ArgumentTypeError(f"not a time of day (HH:MM): {text!r}")
    return text


def count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}")
    return int(text)


def positive(text: str) -> float:
    """A positive number (seconds, a time scale) from the command line."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value
