"""Key-person family (重点人员): the justice bureau asks the police station of the residence to
list the person as a key person (列管); the station confirms, and later tells the bureau and the
司法所 at once when it meets the person: detained, suspected of a new offence, sighted by a
check or a comparison alert, or living somewhere else."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import Field, model_validator

from contracts.catalog import KindSpec
from contracts.common import Address, Agency, Contract, Person, Sentence, SupervisionLevel


class Registration(Contract):
    """重点人员列管通知: who to list, for which correction and how long, who supervises."""

    person: Person
    sentence: Sentence  # 矫正类别与矫正期限
    enrolled_on: date  # 入矫日期
    supervision_level: SupervisionLevel  # 社区矫正管理等级
    justice_office: str = Field(min_length=1, max_length=200)  # 负责的司法所
    contact: str = Field(min_length=1, max_length=64)  # 司法所矫正责任人
    contact_phone: str = Field(pattern=r"^[0-9+\-]{5,20}$")
    requests: str | None = Field(default=None, max_length=1000)  # 协助事项


class ControlLevel(StrEnum):
    """公安机关的重点人员管控级别, decided by the police, not the bureau's 管理等级."""

    key = "key"  # 重点管控
    attention = "attention"  # 关注
    general = "general"  # 一般


class Record(Contract):
    """重点人员列管回执: listed since when, under whom, at what level."""

    person: Person  # 居住地司法所据此确定
    listed_on: date  # 列管日期
    officer: str = Field(min_length=1, max_length=64)  # 责任民警
    officer_phone: str | None = Field(default=None, pattern=r"^[0-9+\-]{5,20}$")
    control_level: ControlLevel
    remarks: str | None = Field(default=None, max_length=1000)


class EventType(StrEnum):
    detention = "detention"  # 拘留
    new_offence = "new_offence"  # 涉嫌新的违法犯罪
    sighting = "sighting"  # 发现/比对预警
    address_change = "address_change"  # 居住地变动


class Event(Contract):
    """重点人员动态: what the police met, when, where and who handles it (an alert)."""

    person: Person  # 矫正中的居住地：收件司法所据此确定
    event_type: EventType
    occurred_at: datetime  # 发生时间
    place: str = Field(min_length=2, max_length=200)  # 发生地点
    handling_unit: str = Field(min_length=1, max_length=200)  # 处置单位
    description: str = Field(min_length=1, max_length=1000)  # 情况描述
    new_residence: Address | None = None  # 居住地变动时的新居住地

    @model_validator(mode="after")
    def _new_residence_only_on_moving(self) -> Event:
        if self.new_residence is not None and self.event_type is not EventType.address_change:
            raise ValueError("只有居住地变动才填写新居住地")
        return self


def offending(payload: Mapping[str, Any]) -> bool:
    """A detention or a new offence puts the case at risk; a sighting or a move does not."""
    return payload.get("event_type") in (EventType.detention, EventType.new_offence)


KINDS = [
    KindSpec(
        "keyperson.registration", "重点人员列管通知", Registration, frozenset({Agency.justice}), awaits_answer=True
    ),
    KindSpec(
        "keyperson.record",
        "重点人员列管回执",
        Record,
        frozenset({Agency.police}),
        answers=frozenset({"keyperson.registration"}),
    ),
    KindSpec("keyperson.event", "重点人员动态", Event, frozenset({Agency.police}), live=True, at_risk=offending),
]
