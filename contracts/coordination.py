"""Coordination family (协调督办): the political-legal committee (县委政法委，县社区矫正委员会办公室)
makes an overdue obligation visible to whoever must act: the unit that owes it, and the unit its
deadline rule names to alert (the police station of the residence, when a person failed to report).

The gateway's watcher sends the notice as the committee of the division, once per obligation."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import Field

from contracts.catalog import KindSpec
from contracts.common import Agency, Contract, Person, UnitType

Item = Annotated[str, Field(min_length=1, max_length=200)]


class UnitRef(Contract):
    """A unit the notice is addressed to, with the place that locates it in the directory
    (its division code, or an area code it covers), so that routing finds it as any other role."""

    role: str = Field(min_length=1, max_length=64)  # 角色，如“居住地派出所”“义务单位”
    unit_type: UnitType
    place: str = Field(pattern=r"^\d{6}(\d{3}){0,2}$")  # 行政区划代码或区划代码
    unit_code: str = Field(min_length=1, max_length=32)
    unit_name: str = Field(min_length=1, max_length=100)


class OverdueNotice(Contract):
    """督办通知（逾期提醒）: what fell due when, who owes it to whom, and what is asked now."""

    obligation_id: str = Field(min_length=1, max_length=200)  # 应办事项标识（GET /v1/obligations）
    title: str = Field(min_length=1, max_length=200)  # 应办事项
    basis: str = Field(min_length=1, max_length=500)  # 法律依据或决定
    due_on: date  # 到期日
    owed_by: list[Item] = Field(min_length=1, max_length=20)  # 义务人
    owed_to: list[Item] = Field(min_length=1, max_length=20)  # 相对方
    owing_unit: UnitRef | None = None  # 负有义务的单位（义务人为本人或无对应单位时无）
    alert_unit: UnitRef | None = None  # 期限规则指明须告知的单位
    person: Person | None = None  # 所涉社区矫正对象（开启义务的报文载有时）
    request: str = Field(min_length=1, max_length=500)  # 督办事项


KINDS = [
    KindSpec("coordination.overdue_notice", "督办通知（逾期提醒）", OverdueNotice, frozenset({Agency.committee}), live=True),
]
