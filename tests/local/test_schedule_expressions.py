"""EventBridge expressions: at(), rate() and AWS's six-field cron() with time zones."""
from datetime import datetime, timezone

import pytest

from coursehub_local.schedule_expressions import ExpressionError, next_time, validate

FRIDAY_NOON = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


def test_at_fires_once_in_its_time_zone():
    assert next_time("at(2026-11-27T13:00:00)", FRIDAY_NOON) == datetime(2026, 11, 27, 13, tzinfo=timezone.utc)
    # 13:00 in Berlin is 12:00 UTC: already past
    assert next_time("at(2026-11-27T13:00:00)", FRIDAY_NOON, "Europe/Berlin") is None


def test_rate_counts_from_its_anchor():
    anchor = datetime(2026, 11, 27, 11, 58, tzinfo=timezone.utc)
    assert next_time("rate(5 minutes)", FRIDAY_NOON, anchor=anchor) == datetime(2026, 11, 27, 12, 3, tzinfo=timezone.utc)


def test_cron_uses_aws_day_numbers_and_the_time_zone():
    # 22:00 New York on a weekday: Friday 22:00 EST is Saturday 03:00 UTC
    assert next_time("cron(0 22 ? * MON-FRI *)", FRIDAY_NOON, "America/New_York") == \
        datetime(2026, 11, 28, 3, tzinfo=timezone.utc)
    # AWS 2-6 is Monday to Friday
    assert next_time("cron(0 7 ? * 2-6 *)", FRIDAY_NOON, "Europe/London") == \
        datetime(2026, 11, 30, 7, tzinfo=timezone.utc)


def test_cron_year_field_limits_the_years():
    assert next_time("cron(0 7 1 * ? 2025)", FRIDAY_NOON) is None
    assert next_time("cron(0 7 1 * ? 2027)", FRIDAY_NOON) == datetime(2027, 1, 1, 7, tzinfo=timezone.utc)


@pytest.mark.parametrize("expression", [
    "cron(0 7 * * * *)",        # '?' missing
    "cron(0 7 ? * ?)",          # five fields
    "cron(0 7 ? * 8 *)",        # day 8
    "rate(0 minutes)",
    "every day",
])
def test_invalid_expressions_are_rejected(expression):
    with pytest.raises(ExpressionError):
        validate(expression)


def test_unknown_time_zone_is_rejected():
    with pytest.raises(ExpressionError):
        validate("rate(1 day)", "Mars/Olympus")
