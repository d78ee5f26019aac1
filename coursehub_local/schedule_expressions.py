"""When an EventBridge Scheduler or EventBridge rule expression is due: ``at()``, ``rate()``, ``cron()``."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from croniter import croniter

_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


class ExpressionError(ValueError):
    """The expression is not one EventBridge accepts."""


def next_time(expression: str, after: datetime, tz: str = "UTC", anchor: datetime | None = None) -> datetime | None:
    """The first time strictly after ``after`` the expression fires, or None if never again.

    ``anchor`` is when a ``rate()`` schedule started counting (its creation).
    """
    zone = ZoneInfo(tz)
    if match := _AT.match(expression):
        when = datetime.fromisoformat(match.group(1)).replace(tzinfo=zone)
        return when if when > after else None
    if match := _RATE.match(expression):
        step = timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2).rstrip("s")])
        if step.total_seconds() <= 0:
            raise ExpressionError(f"rate must be positive: {expression}")
        start = anchor or after
        periods = max(int((after - start) / step) + 1, 1)
        return start + periods * step
    if match := _CRON.match(expression):
        fields, year = _to_croniter(match.group(1))
        local_after = after.astimezone(zone)
        iterator = croniter(fields, local_after)
        for _ in range(400):  # a year filter can skip many matches; bounded
            candidate = iterator.get_next(datetime)
            if year is None or candidate.year in year:
                return candidate.astimezone(timezone.utc)
            if year and candidate.year > max(year):
                return None
        return None
    raise ExpressionError(f"unsupported schedule expression: {expression}")


def validate(expression: str, tz: str = "UTC") -> None:
    """Raise ExpressionError unless the expression and time zone are valid."""
    try:
        ZoneInfo(tz)
    except Exception:  # noqa: BLE001 - zoneinfo raises several kinds
        raise ExpressionError(f"unknown time zone: {tz}") from None
    try:
        next_time(expression, datetime(2000, 1, 1, tzinfo=timezone.utc), tz)
    except (ValueError, KeyError) as error:
        raise ExpressionError(str(error)) from None


def _to_croniter(body: str) -> tuple[str, set[int] | None]:
    """AWS cron (min hour dom month dow year, '?' allowed, dow 1-7 = SUN-SAT) to croniter's five fields."""
    parts = body.split()
    if len(parts) != 6:
        raise ExpressionError(f"cron() needs 6 fields, got {len(parts)}: {body}")
    minute, hour, dom, month, dow, year = parts
    if (dom == "?") == (dow == "?"):
        raise ExpressionError("cron() needs '?' in exactly one of day-of-month and day-of-week")
    dom = "*" if dom == "?" else dom
    dow = "*" if dow == "?" else _aws_dow(dow)
    years = None if year == "*" else _years(year)
    return f"{minute} {hour} {dom} {month} {dow}", years


def _aws_dow(field: str) -> str:
    """Shift AWS's 1-7 (SUN=1) numbering to cron's 0-6; names stay."""
    def shift(token: str) -> str:
        if token.isdigit():
            value = int(token)
            if not 1 <= value <= 7:
                raise ExpressionError(f"day-of-week {value} is outside 1-7")
            return str(value - 1)
        return token
    return re.sub(r"[0-9A-Za-z]+", lambda m: shift(m.group(0)), field)


def _years(field: str) -> set[int]:
    years: set[int] = set()
    for token in field.split(","):
        if "-" in token:
            low, high = token.split("-", 1)
            years.update(range(int(low), int(high) + 1))
        else:
            years.add(int(token))
    return years
