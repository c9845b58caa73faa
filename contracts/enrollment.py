"""Enrollment family (入矫): the justice bureau registers the person, or reports that the
person failed to report, and the parties of the residence are told."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from contracts.catalog import KindSpec, always
from contracts.common import Agency, Contract, Person, Sentence, SupervisionLevel


class Registered(Contract):
    """入矫登记: the person reported and is enrolled; the grid receives a supervision task."""

    person: Person
    sentence: Sentence
    enrolled_on: date
    supervision_level: SupervisionLevel
    visit_schedule: str = Field(min_length=1, max_length=200)  # 走访频次，如“每月不少于2次”
    task: str = Field(min_length=1, max_length=1000)  # 交网格的协助事项
    officer: str | None = Field(default=None, max_length=64)  # 矫正责任人


class FailedToReport(Contract):
    """未按时报到: the report deadline passed; the police of the residence are asked to search."""

    person: Person
    report_by: date
    checked_on: date
    circumstances: str = Field(min_length=1, max_length=1000)


KINDS = [
    KindSpec("enrollment.registered", "入矫登记通知", Registered, frozenset({Agency.justice})),
    KindSpec("enrollment.failed_to_report", "未按时报到通知", FailedToReport, frozenset({Agency.justice}), at_risk=always),
]
