"""Schedule arithmetic: daylight-saving changes, month ends, every N days, words."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from webapp.schedules.timing import Timing, in_words, parse_at, valid_timezone


def dues(timing: Timing, after: datetime, count: int) -> list[datetime]:
    found, moment = [], after
    for _ in range(count):
        moment = timing.next_after(moment)
        found.append(moment)
    return found


def test_spring_forward_neither_skips_nor_doubles_a_run():
    # Warsaw, 29 March 2026: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that night.
    timing = Timing(time(2, 30), "Europe/Warsaw")
    assert dues(timing, datetime(2026, 3, 27, 12), 4) == [
        datetime(2026, 3, 28, 1, 30),  # 02:30 CET
        datetime(2026, 3, 29, 1, 30),  # the missing 02:30 runs at 03:30 CEST, the same instant
        datetime(2026, 3, 30, 0, 30),  # 02:30 CEST
        datetime(2026, 3, 31, 0, 30),
    ]


def test_fall_back_runs_the_repeated_hour_once():
    # Warsaw, 25 October 2026: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
    timing = Timing(time(2, 30), "Europe/Warsaw")
    assert dues(timing, datetime(2026, 10, 23, 12), 4) == [
        datetime(2026, 10, 24, 0, 30),
        datetime(2026, 10, 25, 0, 30),  # the first 02:30 (CEST) only
        datetime(2026, 10, 26, 1, 30),
        datetime(2026, 10, 27, 1, 30),
    ]
    # Asked between the two 02:30s of that night, the next run is the next day's.
    assert timing.next_after(datetime(2026, 10, 25, 1, 0)) == datetime(2026, 10, 26, 1, 30)


def test_new_york_spring_forward():
    timing = Timing(time(2, 30), "America/New_York")
    assert dues(timing, datetime(2026, 3, 7, 12), 3) == [
        datetime(2026, 3, 8, 7, 30), datetime(2026, 3, 9, 6, 30), datetime(2026, 3, 10, 6, 30)]


def test_every_n_days_counts_across_month_and_year_ends():
    timing = Timing(time(23, 0), "Europe/Warsaw", every_days=3, starts_on=date(2026, 1, 30))
    assert dues(timing, datetime(2026, 1, 1), 3) == [
        datetime(2026, 1, 30, 22), datetime(2026, 2, 2, 22), datetime(2026, 2, 5, 22)]
    every_two = Timing(time(1, 0), "UTC", every_days=2, starts_on=date(2027, 2, 27))
    assert dues(every_two, datetime(2027, 2, 1), 3) == [  # 2027 is not a leap year
        datetime(2027, 2, 27, 1), datetime(2027, 3, 1, 1), datetime(2027, 3, 3, 1)]
    leap = Timing(time(1, 0), "UTC", every_days=2, starts_on=date(2028, 2, 27))
    assert dues(leap, datetime(2028, 2, 1), 3) == [
        datetime(2028, 2, 27, 1), datetime(2028, 2, 29, 1), datetime(2028, 3, 2, 1)]
    thirty = Timing(time(6, 0), "UTC", every_days=30, starts_on=date(2026, 12, 15))
    assert dues(thirty, datetime(2026, 12, 1), 2) == [
        datetime(2026, 12, 15, 6), datetime(2027, 1, 14, 6)]


def test_daily_runs_on_the_31st_and_the_1st():
    timing = Timing(time(0, 0), "UTC")
    assert dues(timing, datetime(2026, 1, 30, 12), 2) == [
        datetime(2026, 1, 31), datetime(2026, 2, 1)]


def test_latest_due_time_collapses_missed_days_into_one():
    timing = Timing(time(2, 0), "Europe/Warsaw")
    assert timing.latest_at_or_before(datetime(2026, 6, 10, 12)) == datetime(2026, 6, 10, 0)
    assert timing.latest_at_or_before(datetime(2026, 6, 10, 0)) == datetime(2026, 6, 10, 0)


@pytest.mark.parametrize(("now", "due", "words"), [
    (datetime(2026, 1, 14, 15), datetime(2026, 1, 15, 1), "tonight at 02:00 CET"),
    (datetime(2026, 1, 14, 0, 30), datetime(2026, 1, 14, 1), "tonight at 02:00 CET"),
    (datetime(2026, 1, 14, 6), datetime(2026, 1, 14, 13), "today at 14:00 CET"),
    (datetime(2026, 1, 14, 6), datetime(2026, 1, 15, 13), "tomorrow at 14:00 CET"),
    (datetime(2026, 7, 14, 6), datetime(2026, 7, 17, 0), "on Friday at 02:00 CEST"),
    (datetime(2026, 7, 1, 6), datetime(2026, 7, 17, 0), "on Friday, 17 July at 02:00 CEST"),
])
def test_next_run_in_words(now, due, words):
    assert in_words(due, "Europe/Warsaw", now) == words


def test_time_and_zone_parsing():
    assert parse_at("02:00") == time(2, 0)
    assert parse_at("24:00") is None and parse_at("2am") is None
    assert valid_timezone("Europe/Warsaw") and valid_timezone("America/Argentina/Salta")
    assert not valid_timezone("Mars/Olympus") and not valid_timezone("../../etc/passwd")
    assert not valid_timezone("")
