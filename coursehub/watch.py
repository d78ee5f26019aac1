"""Follow a hub through its workflow and tell a person what happens, for ``coursehub ... --watch`` and the demo.

``follow`` polls the hub's view (``GET /hubs/{id}``) and prints each step once
when it starts and once when it ends, with its duration, the run's
``[done/total]`` and the time since the watch began, until the run ends: READY
with every step done, RETIRED, or FAILED (with the failed step and its cause).
"""
from __future__ import annotations

import sys
import time
import urllib.error
from dataclasses import dataclass
from typing import Callable, TextIO

from coursehub.api_client import ApiFailure

NETWORK_ERRORS = (urllib.error.URLError, ConnectionError, TimeoutError)
DOING = {"provision": "provisioning", "teardown": "retiring"}


@dataclass
class Outcome:
    """How a watch ended: the hub as last seen, and after how many seconds."""

    hub: dict
    seconds: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.hub["status"] in ("READY", "RETIRED")


def ended(hub: dict) -> bool:
    """The hub's run is over: READY with every step done, RETIRED, or FAILED."""
    if hub["status"] in ("RETIRED", "FAILED"):
        return True
    if hub["status"] != "READY":
        return False
    progress, steps = hub.get("progress") or {}, hub.get("steps") or []
    if progress.get("done", 0) >= progress.get("total", 0):
        return True
    # The total counts a step only some runs take ("Check DNS resolves", when the DNS records are created by
    # hand), so a run is also over once the workflow's last step has succeeded and nothing runs.
    from chalicelib.api_views import STEPS  # the workflows' steps, as the API counts them

    last = (STEPS.get(hub.get("workflow") or "provision") or ("",))[-1]
    return (any(s["name"] == last and s["outcome"] == "SUCCEEDED" for s in steps)
            and not any(s["outcome"] == "RUNNING" for s in steps))


def follow(get: Callable[[], dict], *, first: dict | None = None, interval: float = 1.0, timeout: float = 3600.0,
           out: TextIO | None = None, sleep: Callable[[float], None] = time.sleep,
           clock: Callable[[], float] = time.monotonic) -> Outcome:
    """Poll ``get`` (the hub's view) every ``interval`` seconds, printing the steps, until the run ends or
    ``timeout`` seconds pass. A network error or a 5xx while polling is tried again until then."""
    view = LiveView(out or sys.stdout, clock)
    deadline = clock() + timeout
    hub = first if first is not None else get()
    while True:
        view.show(hub)
        if ended(hub):
            view.end(hub)
            return Outcome(hub, view.elapsed())
        if clock() >= deadline:
            view.gave_up(hub)
            return Outcome(hub, view.elapsed(), timed_out=True)
        sleep(interval)
        try:
            hub = get()
        except ApiFailure as error:
            if error.answer.status < 500:
                raise
            print(f"  (the API answered {error}; asking again)", file=sys.stderr)
        except NETWORK_ERRORS as error:
            print(f"  (cannot reach the API: {getattr(error, 'reason', error)}; asking again)", file=sys.stderr)


class LiveView:
    """Prints what changed between two views of a hub."""

    def __init__(self, out: TextIO, clock: Callable[[], float]):
        self.out, self.clock, self.started = out, clock, clock()
        self.run: str | None = None
        self.printed: set[tuple[str, str]] = set()  # (step, "start" or "end") of the current run
        self.done = 0

    def elapsed(self) -> float:
        return self.clock() - self.started

    def show(self, hub: dict) -> None:
        if hub.get("execution_arn") != self.run:  # a new run (the watch began, or the hub was retried)
            self.run, self.printed, self.done = hub.get("execution_arn"), set(), 0
            workflow = hub.get("workflow") or "provision"
            total = (hub.get("progress") or {}).get("total", 0)
            self._say(f"{hub['hub_id']}: {DOING.get(workflow, workflow)}, {total} steps ({hub['status']})")
        total = (hub.get("progress") or {}).get("total", 0)
        for step in hub.get("steps") or []:
            name, outcome = step["name"], step["outcome"]
            if outcome == "RUNNING":
                if (name, "start") not in self.printed:
                    self.printed.add((name, "start"))
                    self._say(f"[{self.done:>2}/{total}] started  {name}")
            elif (name, "end") not in self.printed:
                self.printed.add((name, "end"))
                self.done += outcome == "SUCCEEDED"
                verb = "done" if outcome == "SUCCEEDED" else outcome.lower()
                detail = f"; {step['detail']}" if step.get("detail") and outcome == "SUCCEEDED" else ""
                self._say(f"[{min(self.done, total):>2}/{total}] {verb:<8} {name} "
                          f"({duration(step.get('duration_s'))}{detail})")

    def end(self, hub: dict) -> None:
        for line in ending(hub):
            self._say(line)

    def gave_up(self, hub: dict) -> None:
        self._say(f"still {hub['status']} at step {hub.get('current_step')!r}; stopped watching "
                  "(the workflow goes on)")

    def _say(self, text: str) -> None:
        print(f"  {clock_time(self.elapsed())} {text}", file=self.out, flush=True)


def ending(hub: dict) -> list[str]:
    """What to say of a hub whose run is over."""
    status, urls = hub["status"], hub.get("urls") or {}
    if status == "READY":
        return [f"{hub['hub_id']} is READY: {urls.get('binder')} (BinderHub), {urls.get('hub')} (JupyterHub)"]
    if status == "RETIRED":
        return [f"{hub['hub_id']} is RETIRED; audit: {(hub.get('audit') or {}).get('summary', 'none')}"]
    return [failure(hub)] + ([f"execution: {hub['console_url']}"] if hub.get("console_url") else []) + \
        [f"try again with: coursehub retry {hub['hub_id']}"]


def failure(hub: dict) -> str:
    """"failed at step '...': <error>: <cause>"."""
    error = hub.get("error") or {}
    kind = f"{error['error']}: " if error.get("error") else ""
    return f"failed at step {error.get('step') or hub.get('current_step')!r}: {kind}{error.get('cause', '')}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def clock_time(seconds: float) -> str:
    """mm:ss (h:mm:ss past an hour)."""
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02}:{rest % 60:02}" if hours else f"{rest // 60:02}:{rest % 60:02}"
