"""Working days follow the State Council's holiday schedule: the National Day week is off, and
the weekend days worked in exchange (调休) count as working days."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.workdays import COVERED, CalendarGap, add_working_days, is_workday, next_workday


def test_national_day_2025_with_its_adjusted_working_weekend() -> None:
    assert not any(is_workday(date(2025, 10, day)) for day in range(1, 9))  # 国庆、中秋：10月1日至8日放假
    assert is_workday(date(2025, 9, 28))  # a Sunday worked in exchange
    assert is_workday(date(2025, 10, 11))  # a Saturday worked in exchange
    assert not is_workday(date(2025, 10, 12))


def test_national_day_2024_with_its_adjusted_working_weekend() -> None:
    assert not any(is_workday(date(2024, 10, day)) for day in range(1, 8))  # 10月1日至7日放假
    assert is_workday(date(2024, 9, 29)) and is_workday(date(2024, 10, 12))


def test_working_days_are_counted_after_the_start_across_the_holiday() -> None:
    # Friday 26 September 2025: Sun 28 (worked), 29, 30, then 9 and 10 October.
    assert add_working_days(date(2025, 9, 26), 5) == date(2025, 10, 10)
    # ... then Saturday 11 October (worked), 13, 14, 15, 16.
    assert add_working_days(date(2025, 9, 26), 10) == date(2025, 10, 16)
    # 2024: Sun 29 September (worked), 30, 8–11 October, Sat 12 (worked), 14, 15, 16.
    assert add_working_days(date(2024, 9, 27), 10) == date(2024, 10, 16)


def test_a_start_on_a_holiday_counts_from_the_first_working_day() -> None:
    assert add_working_days(date(2025, 10, 3), 1) == date(2025, 10, 9)


def test_a_deadline_ending_on_a_holiday_moves_to_the_next_working_day() -> None:
    assert next_workday(date(2025, 10, 1)) == date(2025, 10, 9)
    assert next_workday(date(2025, 10, 11)) == date(2025, 10, 11)  # a worked Saturday is no holiday
    assert next_workday(date(2025, 10, 12)) == date(2025, 10, 13)


def test_a_year_without_a_published_schedule_is_refused() -> None:
    assert COVERED.start <= 2024 and 2025 in COVERED
    later = date(COVERED.stop, 1, 4)
    with pytest.raises(CalendarGap, match=f"只收录{COVERED.start}年至{COVERED.stop - 1}年") as refused:
        is_workday(later)
    assert refused.value.day == later
    with pytest.raises(CalendarGap):
        add_working_days(date(COVERED.stop - 1, 12, 28), 10)
    with pytest.raises(CalendarGap):
        is_workday(date(COVERED.start - 1, 6, 1))
