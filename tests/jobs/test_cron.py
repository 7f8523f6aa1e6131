"""Cron evaluation with a controlled clock: DST in two zones, nth weekday, last day of month."""

from datetime import UTC, datetime

import pytest

from saas.jobs.registry import Job, periodic


def slots(cron: str, start: str, end: str, timezone: str) -> list[str]:
    job = Job(name="probe", func=lambda run: None, cron=cron)
    after = datetime.fromisoformat(start).replace(tzinfo=UTC)
    until = datetime.fromisoformat(end).replace(tzinfo=UTC)
    return [slot.strftime("%Y-%m-%d %H:%M") for slot in job.slots(after, until, timezone)]


def test_madrid_spring_forward_runs_the_missing_time_once_at_the_jump():
    # 2026-03-29 02:00 CET jumps to 03:00 CEST: 02:30 does not exist that day.
    assert slots("30 2 * * *", "2026-03-27T12:00", "2026-03-30T12:00", "Europe/Madrid") == [
        "2026-03-28 01:30",  # 02:30 CET
        "2026-03-29 01:00",  # 03:00 CEST, the moment of the jump
        "2026-03-30 00:30",  # 02:30 CEST
    ]


def test_madrid_fall_back_runs_the_repeated_time_once():
    # 2026-10-25 03:00 CEST falls back to 02:00 CET: 02:30 happens twice that night.
    assert slots("30 2 * * *", "2026-10-24T12:00", "2026-10-26T12:00", "Europe/Madrid") == [
        "2026-10-25 00:30",  # the first 02:30 (CEST); the second one is not run
        "2026-10-26 01:30",  # 02:30 CET
    ]


def test_new_york_spring_forward_and_fall_back():
    # 2026-03-08 02:00 EST jumps to 03:00 EDT; 2026-11-01 02:00 EDT falls back to 01:00 EST.
    assert slots("30 2 * * *", "2026-03-07T12:00", "2026-03-09T12:00", "America/New_York") == [
        "2026-03-08 07:00",  # 03:00 EDT, at the jump
        "2026-03-09 06:30",
    ]
    assert slots("30 1 * * *", "2026-10-31T12:00", "2026-11-02T12:00", "America/New_York") == [
        "2026-11-01 05:30",  # 01:30 EDT, once; 01:30 EST that night is not run again
        "2026-11-02 06:30",
    ]


def test_hourly_job_across_the_fall_back_hour_runs_each_real_hour():
    # 00:00 UTC is 02:00 CEST and 01:00 UTC is 02:00 CET: an hourly job runs in both hours.
    assert slots("0 * * * *", "2026-10-24T23:30", "2026-10-25T02:00", "Europe/Madrid") == [
        "2026-10-25 00:00",
        "2026-10-25 01:00",
        "2026-10-25 02:00",
    ]


def test_second_tuesday_of_the_month():
    assert slots("0 1 * * 2#2", "2026-01-01T00:00", "2026-05-01T00:00", "UTC") == [
        "2026-01-13 01:00",
        "2026-02-10 01:00",
        "2026-03-10 01:00",
        "2026-04-14 01:00",
    ]


def test_last_day_of_the_month_and_names():
    assert slots("0 0 L * *", "2026-01-15T00:00", "2026-04-15T00:00", "UTC") == [
        "2026-01-31 00:00",
        "2026-02-28 00:00",
        "2026-03-31 00:00",
    ]
    assert slots("15 9 * JAN-FEB MON", "2026-02-20T00:00", "2026-03-10T00:00", "UTC") == [
        "2026-02-23 09:15",
    ]


@pytest.mark.parametrize("cron", ["61 * * * *", "0 0 * *", "* * * * 8", "@yearly-ish"])
def test_a_bad_cron_expression_is_refused_when_declared(cron):
    with pytest.raises(ValueError, match="bad cron expression"):
        periodic(cron)
