"""China's working days (工作日): official holidays and the adjusted working weekends (调休) that
the State Council publishes each year, as the `chinesecalendar` package records them.

The package knows the years from 2004 up to the last schedule it was released with (1.11.0:
2004–2026; `COVERED` says which). A later year cannot be guessed (its holidays are decided each
November), so any date outside is refused with `CalendarGap`: upgrade the package when the next
year's schedule is out.
"""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
from chinese_calendar.constants import holidays

COVERED = range(min(holidays).year, max(holidays).year + 1)


class CalendarGap(ValueError):
    """A date the holiday schedule does not cover: a deadline cannot be counted in working days."""

    def __init__(self, day: date) -> None:
        super().__init__(
            f"工作日历只收录{COVERED.start}年至{COVERED.stop - 1}年的节假日安排，无法判断{day.isoformat()}是否为工作日；"
            "请升级 chinesecalendar"
        )
        self.day = day


def is_workday(day: date) -> bool:
    """A working day: Monday to Friday unless a holiday, or a weekend day worked in exchange (调休)."""
    if day.year not in COVERED:
        raise CalendarGap(day)
    return bool(chinese_calendar.is_workday(day))


def add_working_days(start: date, count: int) -> date:
    """The `count`-th working day after `start` (the start day itself is not counted)."""
    day = start
    while count > 0:
        day += timedelta(days=1)
        if is_workday(day):
            count -= 1
    return day


def next_workday(day: date) -> date:
    """`day` if it is a working day, else the first working day after it: a deadline that ends on
    a holiday ends on the first working day after (刑事诉讼法第一百零五条)."""
    while not is_workday(day):
        day += timedelta(days=1)
    return day
