"""Evaluation family (调查评估): before a non-custodial sentence or decision, the court,
procuratorate or police ask the justice bureau of the residence whether the person suits
community corrections; the bureau may ask the police station of the residence for facts, and
answers with an opinion, copied to the procuratorate."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import Field

from contracts.catalog import KindSpec, never
from contracts.common import Address, Agency, Contract, CorrectionType, Person


class EvaluationRequest(Contract):
    """调查评估委托函: who is to be evaluated, for what offence and which measure; the case
    materials (起诉书 etc.) travel as attachments."""

    person: Person  # 被告人/罪犯：评估在其居住地进行
    offence: str = Field(min_length=2, max_length=100)  # 涉嫌罪名或罪名
    proposed_sentence: str | None = Field(default=None, max_length=200)  # 拟判处（建议）的刑罚
    proposed_correction: CorrectionType  # 拟适用的社区矫正类别
    fast_track: bool = False  # 速裁程序：评估期限减半
    requested_on: date  # 委托日期
    contact: str = Field(min_length=1, max_length=64)  # 委托机关承办人
    contact_phone: str | None = Field(default=None, pattern=r"^[0-9+\-]{5,20}$")
    remarks: str | None = Field(default=None, max_length=1000)


class InquiryItem(StrEnum):
    """What the bureau asks the police station to check (协查事项)."""

    criminal_record = "criminal_record"  # 违法犯罪记录
    conduct = "conduct"  # 一贯表现
    family = "family"  # 家庭及社会关系
    residence = "residence"  # 实际居住情况


class EvaluationInquiry(Contract):
    """调查评估协查函: the bureau asks the police station of the residence what it knows."""

    person: Person
    items: list[InquiryItem] = Field(min_length=1)
    reply_by: date  # 回复期限：评估期限内留出撰写意见的时间
    contact: str = Field(min_length=1, max_length=64)  # 承办人
    contact_phone: str | None = Field(default=None, pattern=r"^[0-9+\-]{5,20}$")
    remarks: str | None = Field(default=None, max_length=1000)


class InquiryReply(Contract):
    """协查回复: what the police station found; the record is always checked, the rest as asked."""

    criminal_record: str = Field(min_length=1, max_length=1000)  # 违法犯罪记录，无则写“无”
    resides_at_address: bool | None = None  # 是否在居住地实际居住
    conduct: str | None = Field(default=None, max_length=1000)  # 一贯表现
    family: str | None = Field(default=None, max_length=1000)  # 家庭及社会关系
    opinion: str | None = Field(default=None, max_length=1000)  # 派出所意见
    officer: str = Field(min_length=1, max_length=64)  # 核查民警
    checked_on: date


class Conclusion(StrEnum):
    suitable = "suitable"  # 适宜社区矫正
    unsuitable = "unsuitable"  # 不适宜社区矫正


class EvaluationOpinion(Contract):
    """调查评估意见书: the bureau's conclusion, its reasons and the place of execution it
    evaluated; the signed 意见书 travels as an attachment."""

    person: Person
    conclusion: Conclusion
    reasons: str = Field(min_length=1, max_length=1000)  # 评估理由
    execution_place: Address  # 拟执行地：所评估的居住地
    issued_on: date  # 出具日期
    recommendations: str | None = Field(default=None, max_length=1000)  # 矫正建议，如禁止令内容
    contact: str = Field(min_length=1, max_length=64)  # 承办人
    contact_phone: str | None = Field(default=None, pattern=r"^[0-9+\-]{5,20}$")


KINDS = [
    KindSpec(
        "evaluation.request",
        "调查评估委托函",
        EvaluationRequest,
        frozenset({Agency.court, Agency.procuratorate, Agency.police}),
        awaits_answer=True,
    ),
    KindSpec(
        "evaluation.inquiry",
        "调查评估协查函",
        EvaluationInquiry,
        frozenset({Agency.justice}),
        answers=frozenset({"evaluation.request"}),
        awaits_answer=True,
        settles=never,  # asking the police is a step of the evaluation, the requester still waits
    ),
    KindSpec(
        "evaluation.inquiry_reply",
        "调查评估协查回复",
        InquiryReply,
        frozenset({Agency.police}),
        answers=frozenset({"evaluation.inquiry"}),
    ),
    KindSpec(
        "evaluation.opinion",
        "调查评估意见书",
        EvaluationOpinion,
        frozenset({Agency.justice}),
        answers=frozenset({"evaluation.request"}),
    ),
]
