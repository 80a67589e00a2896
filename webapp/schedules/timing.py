"""When a schedule is due: APScheduler's cron trigger does the calendar and time-zone work.

A schedule fires once a day at a wall-clock time, in an IANA time zone; "every N days" keeps
the days whose distance from the start day is a multiple of N. Daylight-saving transitions
neither skip nor double a run: a time that does not exist on the spring-forward day fires at
the same instant an hour later by the clock, and a time that happens twice on the fall-back
day fires at its first occurrence only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from apscheduler.triggers.cron import CronTrigger

MIN_EVERY_DAYS, MAX_EVERY_DAYS = 2, 30


@dataclass(frozen=True)
class Timing:
    """A schedule's arithmetic: at a wall-clock time, every `every_days` days from `starts_on`."""

    at: time
    timezone: str
    every_days: int = 1
    starts_on: date | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _trigger(self) -> CronTrigger:
        return CronTrigger(hour=self.at.hour, minute=self.at.minute, timezone=self.zone)

    def _counts(self, fire: datetime) -> bool:
        if fire.fold:  # the repeated hour of a fall-back day: the first occurrence ran
            return False
        if self.every_days <= 1 or self.starts_on is None:
            return True
        return (fire.date() - self.starts_on).days % self.every_days == 0

    def next_after(self, moment: datetime) -> datetime:
        """Return the first due time strictly after a UTC moment, in UTC (naive)."""
        trigger = self._trigger()
        current = _aware(moment)
        for _ in range(2 * 366):  # at most N days ahead, N <= 30, twice for fall-back days
            # Step in UTC: wall-clock arithmetic would forget which of two 02:30s it was at.
            after = (current + timedelta(microseconds=1)).astimezone(self.zone)
            fire = trigger.get_next_fire_time(None, after)
            if self._counts(fire) and (self.starts_on is None
                                       or fire.date() >= self.starts_on):
                return _naive_utc(fire)
            current = fire.astimezone(UTC)
        raise ValueError(f"{self} is never due")

    def latest_at_or_before(self, moment: datetime) -> datetime | None:
        """Return the last due time at or before a UTC moment (None if none in 31 days)."""
        window = _aware(moment) - timedelta(days=MAX_EVERY_DAYS + 1)
        latest = None
        due = self.next_after(_naive_utc(window))
        while due <= _naive_utc(_aware(moment)):
            latest = due
            due = self.next_after(due)
        return latest


def valid_timezone(name: str) -> bool:
    """Tell whether a name is an IANA time zone this machine knows."""
    if not name or name != name.strip() or name.startswith("/"):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def timezone_choices() -> list[str]:
    """Return the IANA time zones to offer, sorted by name."""
    return sorted(z for z in available_timezones()
                  if "/" in z and not z.startswith(("Etc/", "SystemV/", "posix/", "right/")))


def parse_at(raw: str) -> time | None:
    """Read an HH:MM wall-clock time, or None when it is not one."""
    try:
        parsed = datetime.strptime((raw or "").strip(), "%H:%M")
    except ValueError:
        return None
    return parsed.time()


def in_words(due_utc: datetime, timezone: str, now_utc: datetime) -> str:
    """Say when a due time comes, as a person there would: "tonight at 02:00 CET"."""
    zone = ZoneInfo(timezone)
    due = _aware(due_utc).astimezone(zone)
    now = _aware(now_utc).astimezone(zone)
    clock = f"{due:%H:%M} {due.tzname()}"
    days = (due.date() - now.date()).days
    small_hours = due.hour < 6
    if days == 0:
        return f"{'tonight' if due.hour >= 18 or small_hours else 'today'} at {clock}"
    if days == 1 and small_hours and now.hour >= 12:
        return f"tonight at {clock}"
    if days == 1:
        return f"tomorrow at {clock}"
    if days < 7:
        return f"on {due:%A} at {clock}"
    return f"on {due:%A}, {due.day} {due:%B} at {clock}"


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)
