"""Supervision family (监管): the bureau's electronic-monitoring alerts and risk warnings reach the
police station, the 司法所 and the grid of the residence; the 司法所 gives the grid a visit task
and the grid worker answers with a visit report (走访记录) and photos."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, Field, ValidationInfo, field_validator, model_validator

from contracts.catalog import KindSpec, always
from contracts.common import Agency, Contract, Person, SupervisionLevel

Item = Annotated[str, Field(min_length=1, max_length=200)]  # one entry of a list (风险因素、关注重点、异常情况)


class AlertType(StrEnum):
    fence_breach = "fence_breach"  # 越界
    lost_contact = "lost_contact"  # 失联
    device_separated = "device_separated"  # 人机分离
    failed_to_report = "failed_to_report"  # 未按规定报告
    absconding = "absconding"  # 脱管


class Location(Contract):
    """Last known location: WGS-84 coordinates when the device gave them, always a description."""

    longitude: float | None = Field(default=None, ge=-180, le=180)  # 经度
    latitude: float | None = Field(default=None, ge=-90, le=90)  # 纬度
    description: str = Field(min_length=1, max_length=200)  # 位置描述

    @model_validator(mode="after")
    def _both_or_neither(self) -> Location:
        if (self.longitude is None) != (self.latitude is None):
            raise ValueError("经度与纬度应同时提供或同时不提供")
        return self


class Alert(Contract):
    """监管告警: raised by the monitoring platform; the residence's police, 司法所 and grid act at once."""

    alert_type: AlertType
    detected_at: AwareDatetime  # 告警时间（带时区）
    location: Location  # 最后已知位置
    person: Person
    supervision_level: SupervisionLevel
    assistance: str = Field(min_length=1, max_length=500)  # 协助事项，如“协助查找”
    details: str | None = Field(default=None, max_length=1000)  # 告警说明


class RiskLevel(StrEnum):
    high = "high"  # 高
    medium = "medium"  # 中
    low = "low"  # 低


class Measures(Contract):
    """What each party is asked to do; one field per party, so a projection can show each its own.
    The 司法所 supervises the person and always has measures; police and grid may have none."""

    justice: str = Field(min_length=1, max_length=500)  # 司法所措施
    police: str | None = Field(default=None, max_length=500)  # 公安机关（派出所）措施
    grid: str | None = Field(default=None, max_length=500)  # 网格措施


class RiskWarning(Contract):
    """风险预警单: the risk assessed for the person and the measures asked until `valid_until`."""

    person: Person
    supervision_level: SupervisionLevel
    risk_level: RiskLevel
    risk_factors: list[Item] = Field(min_length=1, max_length=20)  # 风险因素
    measures: Measures
    valid_until: date  # 预警有效期至


class VisitTask(Contract):
    """走访任务: the 司法所 asks the grid worker to visit the person by `due_by`."""

    person: Person
    supervision_level: SupervisionLevel
    due_by: date  # 走访期限
    purpose: str = Field(min_length=1, max_length=500)  # 走访目的
    focus_points: list[Item] = Field(default=[], max_length=20)  # 关注重点
    officer: str | None = Field(default=None, max_length=64)  # 矫正责任人（联系人）


class Findings(Contract):
    """What the visit found out about the person."""

    living_situation: str = Field(min_length=1, max_length=1000)  # 居住生活情况
    work: str | None = Field(default=None, max_length=500)  # 工作情况
    mood: str | None = Field(default=None, max_length=500)  # 思想情绪


class VisitReport(Contract):
    """走访记录: the grid worker's answer to a visit task; photos travel as attachments."""

    visited_at: AwareDatetime  # 走访时间
    visitor: str = Field(min_length=1, max_length=64)  # 走访人
    met_person: bool  # 是否见到本人
    findings: Findings
    anomalies: list[Item] = Field(default=[], max_length=20)  # 异常情况
    follow_up_needed: bool  # 是否需要跟进
    follow_up: str | None = Field(default=None, max_length=1000, validate_default=True)  # 跟进建议

    @field_validator("follow_up")
    @classmethod
    def _follow_up_said(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("follow_up_needed") and not value:
            raise ValueError("需要跟进时应写明跟进建议")
        return value


KINDS = [
    KindSpec("supervision.alert", "监管告警", Alert, frozenset({Agency.justice}), live=True, at_risk=always),
    KindSpec("supervision.risk_warning", "风险预警单", RiskWarning, frozenset({Agency.justice}), at_risk=always),
    KindSpec("supervision.visit_task", "走访任务", VisitTask, frozenset({Agency.justice}), awaits_answer=True),
    KindSpec(
        "supervision.visit_report",
        "走访记录",
        VisitReport,
        frozenset({Agency.grid}),
        answers=frozenset({"supervision.visit_task"}),
    ),
]
