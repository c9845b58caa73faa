"""Oversight family (检察监督): the procuratorate sends a correction notice or a procuratorial
suggestion with a reply deadline, the justice bureau replies with its rectification (整改反馈),
and the loop stays open until the procuratorate's conclusion accepts a reply."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import Field, model_validator

from contracts.catalog import KindSpec, never
from contracts.common import Agency, Contract, Person


class NoticeType(StrEnum):
    correction_notice = "correction_notice"  # 纠正违法通知书
    procuratorial_suggestion = "procuratorial_suggestion"  # 检察建议书


class ConclusionOutcome(StrEnum):
    accepted = "accepted"  # 采纳，结案
    reopened = "reopened"  # 继续督促整改


class Problem(Contract):
    """One irregularity found (发现的问题) and what the procuratorate asks to be done about it."""

    description: str = Field(min_length=1, max_length=1000)
    requirement: str | None = Field(default=None, max_length=500)  # 纠正意见或建议内容


class Notice(Contract):
    """纠正违法通知书/检察建议书. A notice may concern a practice rather than one person, so the
    person is optional; the envelope still names a case."""

    notice_type: NoticeType
    problems: list[Problem] = Field(min_length=1)
    legal_basis: str = Field(min_length=1, max_length=500)  # 如《人民检察院刑事诉讼规则》第六百四十二条
    issued_on: date
    reply_by: date  # 回复期限
    person: Person | None = None
    document_number: str | None = Field(default=None, max_length=64)  # 文书编号，如惠检纠违〔2025〕3号
    prosecutor: str | None = Field(default=None, max_length=64)  # 承办检察官
    contact_phone: str | None = Field(default=None, pattern=r"^[0-9+\-]{5,20}$")

    @model_validator(mode="after")
    def _reply_after_issue(self) -> Notice:
        if self.reply_by < self.issued_on:
            raise ValueError("回复期限早于发出日期")
        return self


class Measure(Contract):
    """One rectification measure (整改措施) and who answers for it."""

    description: str = Field(min_length=1, max_length=1000)
    responsible: str = Field(min_length=1, max_length=64)  # 责任人
    completed_on: date | None = None


class RectificationReply(Contract):
    """整改反馈: what the bureau did and with what result; the procuratorate judges it."""

    measures: list[Measure] = Field(min_length=1)
    results: str = Field(min_length=1, max_length=2000)  # 整改结果
    replied_on: date
    contact: str | None = Field(default=None, max_length=64)


class Conclusion(Contract):
    """监督结论: the reply is accepted (结案) or the rectification must go on by a new date."""

    outcome: ConclusionOutcome
    reasons: str = Field(min_length=1, max_length=2000)
    concluded_on: date
    reply_by: date | None = None  # 继续督促时的新回复期限

    @model_validator(mode="after")
    def _new_deadline_when_reopened(self) -> Conclusion:
        if self.outcome is ConclusionOutcome.reopened and self.reply_by is None:
            raise ValueError("继续督促整改须写明新的回复期限")
        if self.outcome is ConclusionOutcome.accepted and self.reply_by is not None:
            raise ValueError("采纳结案时不应再有回复期限")
        if self.reply_by is not None and self.reply_by < self.concluded_on:
            raise ValueError("回复期限早于结论日期")
        return self


KINDS = [
    KindSpec(
        "oversight.notice", "纠正违法通知书/检察建议书", Notice, frozenset({Agency.procuratorate}), awaits_answer=True
    ),
    KindSpec(
        "oversight.rectification_reply",
        "整改反馈",
        RectificationReply,
        frozenset({Agency.justice}),
        answers=frozenset({"oversight.notice", "oversight.conclusion"}),
        settles=never,  # the loop stays open until the procuratorate accepts the rectification
    ),
    KindSpec(
        "oversight.conclusion",
        "监督结论",
        Conclusion,
        frozenset({Agency.procuratorate}),
        answers=frozenset({"oversight.rectification_reply"}),
        settles=lambda payload: payload["outcome"] == ConclusionOutcome.accepted,
    ),
]
