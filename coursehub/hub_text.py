"""A hub, a list of hubs and an audit as plain text for a terminal (the API's JSON is what ``--json`` prints)."""
from __future__ import annotations

from coursehub.watch import duration, failure


def hub(view: dict) -> list[str]:
    """Every part of the hub's view a person asks about, one line each, then its steps."""
    progress = view.get("progress") or {}
    lines = [f"{view['hub_id']}  {view['status']}  ({view.get('workflow', 'provision')}: "
             f"{progress.get('done', 0)}/{progress.get('total', 0)} steps done"
             + (f", last: {view['current_step']}" if view.get("current_step") else "") + ")"]
    urls = view.get("urls") or {}
    for key in ("binder", "hub"):
        if urls.get(key):
            lines.append(f"  {key:<10} {urls[key]}")
    if view.get("retire_at"):
        lines.append(f"  {'retire at':<10} {view['retire_at']}")
    lines.append(f"  {'nodes':<10} {nodes(view)}")
    lines.append(f"  {'scaling':<10} {scaling(view)}")
    for name, schedule in _schedules(view.get("schedules")):
        lines.append(f"  {'schedule':<10} {name}: {schedule.get('expression')} {schedule.get('timezone', '')}".rstrip())
    if view.get("launch_check"):
        lines.append(f"  {'launch':<10} {launch_check(view['launch_check'])}")
    if view.get("error"):
        lines.append(f"  {'error':<10} {failure(view)}")
    if view.get("audit"):
        lines += [f"  {'audit':<10} {view['audit'].get('summary', '')}"] + audit(view["audit"], indent=4)
    if view.get("console_url"):
        lines.append(f"  {'execution':<10} {view['console_url']}")
    if view.get("steps"):
        lines.append("  steps:")
        for step in view["steps"]:
            took = "" if step["outcome"] == "RUNNING" else f" ({duration(step.get('duration_s'))})"
            detail = f"  {step['detail']}" if step.get("detail") else ""
            lines.append(f"    {step['outcome']:<9} {step['name']}{took}{detail}")
    return lines


def launch_check(check: dict) -> str:
    """The last launch check in a line: passed with the time to first output, failed with phase and cause, or where
    it is."""
    what = f"{check.get('repository')} ({check.get('purpose')}, {check.get('started_at')})"
    if check.get("status") == "PASSED":
        seconds = check.get("time_to_first_output_seconds")
        first = "unknown" if seconds is None else f"{seconds:g} s"
        return f"PASSED: first output after {first}, {what}"
    if check.get("status") == "FAILED":
        return f"FAILED at {check.get('phase')}: {check.get('cause')}, {what}"
    return f"RUNNING: {check.get('phase')}" + (f" ({check['detail']})" if check.get("detail") else "") + f", {what}"


def nodes(view: dict) -> str:
    """Instance type, sizes as requested, and where scaling has put them."""
    wanted = (view.get("request") or {}).get("nodes") or {}
    text = (f"{wanted.get('instance_type', '?')}, min {wanted.get('min_size')}, desired {wanted.get('desired_size')}, "
            f"max {wanted.get('max_size')}")
    scale = view.get("scale") or {}
    if scale and (scale.get("min_size"), scale.get("desired_size")) != (wanted.get("min_size"),
                                                                        wanted.get("desired_size")):
        text += (f" (now scaled {scale.get('direction', 'up')}: min {scale.get('min_size')}, "
                 f"desired {scale.get('desired_size')})")
    return text


def scaling(view: dict) -> str:
    request = view.get("request") or {}
    window = request.get("scaling")
    if not window:
        return "always on"
    days = "weekdays only" if window.get("weekdays_only", True) else "every day"
    return (f"down at {window['down_at']}, up at {window['up_at']} ({request.get('timezone', 'UTC')}, {days})")


def hubs(summaries: list[dict]) -> list[str]:
    """A table: id, status, current step, retire time, BinderHub URL."""
    if not summaries:
        return ["no hubs"]
    rows = [("HUB", "STATUS", "STEP", "RETIRE AT", "BINDERHUB")] + [
        (s["hub_id"], s["status"], s.get("current_step") or "-", s.get("retire_at") or "-",
         (s.get("urls") or {}).get("binder") or "-") for s in summaries]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1] for row in rows]


def audit(report: dict, indent: int = 2) -> list[str]:
    """One line per kind of resource the audit looked for: what it found, deleted, and what is still there."""
    found, cleaned, remaining = (report.get(k) or {} for k in ("found", "cleaned", "remaining"))
    lines = []
    for kind in found or cleaned or remaining:
        text = ", ".join(found.get(kind) or []) or "none"
        if cleaned.get(kind):
            text += f"; deleted {', '.join(cleaned[kind])}"
        if remaining.get(kind):
            text += f"; STILL THERE {', '.join(remaining[kind])}"
        lines.append(f"{' ' * indent}{kind:<24} {text}")
    return lines


def _schedules(schedules: dict | list | None) -> list[tuple[str, dict]]:
    if isinstance(schedules, dict):
        return sorted(schedules.items())
    return [(s.get("name", "?"), s) for s in schedules or [] if isinstance(s, dict)]
