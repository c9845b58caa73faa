"""Sanctions and revocation family (考核奖惩、撤销缓刑假释): the justice bureau admonishes or warns
the person, proposes a public-security penalty to the police or the revocation of probation or
parole (收监执行 for medical parole) to the court; police and court answer with their decision.
The procuratorate receives a copy of every step (社区矫正法第二十八条、第四十六条至第四十九条)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import Field, model_validator

from contracts.catalog import KindSpec, always
from contracts.common import Agency, Contract, CorrectionType, Person, Sentence


class WarningMeasure(StrEnum):
    admonition = "admonition"  # 训诫
    warning = "warning"  # 警告


class PenaltyOutcome(StrEnum):
    detention = "detention"  # 行政拘留
    fine = "fine"  # 罚款
    not_punished = "not_punished"  # 不予处罚


class RevocationMeasure(StrEnum):
    revoke_probation = "revoke_probation"  # 撤销缓刑
    revoke_parole = "revoke_parole"  # 撤销假释
    remand = "remand"  # 收监执行（暂予监外执行）


class RulingOutcome(StrEnum):
    granted = "granted"  # 裁定撤销/决定收监
    rejected = "rejected"  # 不予撤销/不予收监


APPLIES_TO = {
    RevocationMeasure.revoke_probation: (CorrectionType.probation, "撤销缓刑", "缓刑"),
    RevocationMeasure.revoke_parole: (CorrectionType.parole, "撤销假释", "假释"),
    RevocationMeasure.remand: (CorrectionType.medical_parole, "收监执行", "暂予监外执行"),
}
"""Which correction type each measure ends, with both names: one cannot revoke a parolee's probation."""


class WarningDecision(Contract):
    """训诫/警告决定书: the bureau's own sanction for a breach of the supervision rules."""

    person: Person
    measure: WarningMeasure
    facts: str = Field(min_length=1, max_length=2000)  # 违规事实
    legal_basis: str = Field(min_length=1, max_length=500)  # 依据条款，如《社区矫正法实施办法》第三十五条
    decided_on: date
    document_number: str | None = Field(default=None, max_length=64)  # 决定书文号


class PenaltyProposal(Contract):
    """治安管理处罚建议书: the bureau asks the public security bureau of the residence to punish."""

    person: Person
    facts: str = Field(min_length=1, max_length=2000)
    legal_basis: str = Field(min_length=1, max_length=500)  # 如《社区矫正法》第二十八条、《治安管理处罚法》第六十条
    proposed_measure: str = Field(min_length=1, max_length=200)  # 建议的处罚，如“行政拘留”
    proposed_on: date
    document_number: str | None = Field(default=None, max_length=64)
    contact: str | None = Field(default=None, max_length=64)


class PenaltyDecision(Contract):
    """治安管理处罚决定: the police answer the proposal; detention in days, a fine in yuan (0 when
    not imposed, as police systems write it; detention may come with a fine, 并处罚款)."""

    outcome: PenaltyOutcome
    detention_days: int = Field(default=0, ge=0, le=20)  # 合并执行最长二十日
    fine_yuan: int = Field(default=0, ge=0, le=20000)
    reasons: str = Field(min_length=1, max_length=2000)
    decided_on: date
    document_number: str | None = Field(default=None, max_length=64)  # 行政处罚决定书文号

    @model_validator(mode="after")
    def _amount_matches_outcome(self) -> PenaltyDecision:
        if self.outcome is PenaltyOutcome.detention and not self.detention_days:
            raise ValueError("行政拘留须写明拘留天数")
        if self.outcome is PenaltyOutcome.fine and not self.fine_yuan:
            raise ValueError("罚款须写明罚款金额")
        if self.outcome is PenaltyOutcome.not_punished and (self.detention_days or self.fine_yuan):
            raise ValueError("不予处罚时不应有拘留天数或罚款金额")
        return self


class RevocationProposal(Contract):
    """撤销缓刑/假释建议书, or 收监执行建议书 for medical parole; the proposal travels as a PDF."""

    person: Person
    sentence: Sentence
    measure: RevocationMeasure
    facts: str = Field(min_length=1, max_length=4000)  # 违法违规事实及以往奖惩情况
    legal_basis: str = Field(min_length=1, max_length=500)  # 如《刑法》第七十七条第二款、《社区矫正法》第四十六条
    proposed_on: date
    document_number: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _measure_fits_the_sentence(self) -> RevocationProposal:
        applies_to, measure, correction = APPLIES_TO[self.measure]
        if self.sentence.correction_type is not applies_to:
            raise ValueError(f"建议事项“{measure}”只适用于{correction}的社区矫正对象")
        return self


class Ruling(Contract):
    """撤销缓刑/假释裁定书 or 收监执行决定书: the court's answer; remand (收监) falls to the police."""

    person: Person
    measure: RevocationMeasure
    outcome: RulingOutcome
    decided_on: date
    remand_required: bool  # 是否需公安机关送交收监
    reasons: str = Field(min_length=1, max_length=2000)
    document_number: str | None = Field(default=None, max_length=64)  # 裁定书文号，如（2025）鲁1621刑更5号

    @model_validator(mode="after")
    def _no_remand_when_rejected(self) -> Ruling:
        if self.outcome is RulingOutcome.rejected and self.remand_required:
            raise ValueError("不予撤销（不予收监）时不应要求收监")
        return self


KINDS = [
    KindSpec("sanction.warning", "训诫/警告决定", WarningDecision, frozenset({Agency.justice}), at_risk=always),
    KindSpec(
        "sanction.penalty_proposal",
        "治安管理处罚建议书",
        PenaltyProposal,
        frozenset({Agency.justice}),
        awaits_answer=True,
        at_risk=always,
    ),
    KindSpec(
        "sanction.penalty_decision",
        "治安管理处罚决定",
        PenaltyDecision,
        frozenset({Agency.police}),
        answers=frozenset({"sanction.penalty_proposal"}),
    ),
    KindSpec(
        "sanction.revocation_proposal",
        "撤销缓刑/假释（收监执行）建议书",
        RevocationProposal,
        frozenset({Agency.justice}),
        awaits_answer=True,
        at_risk=always,
    ),
    KindSpec(
        "sanction.ruling",
        "撤销缓刑/假释裁定（收监执行决定）",
        Ruling,
        frozenset({Agency.court}),
        answers=frozenset({"sanction.revocation_proposal"}),
        # A rejection settles the proposal too: the court owes nothing more, and new facts make a new proposal.
    ),
]
