"""Handover family (交付接收): the court's effective judgment and legal documents reach the
justice bureau of the place of execution, which answers with a receipt or a request to
complete missing documents (补正)."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from contracts.catalog import KindSpec, never
from contracts.common import Agency, Contract, DocumentKind, Person, Sentence
from contracts.identifiers import DivisionCode


class CaseParticulars(Contract):
    """What every handover message says of the person and the sentence."""

    person: Person
    sentence: Sentence
    execution_division: DivisionCode  # 执行地（社区矫正决定执行地）的行政区划代码


class JudgmentEffective(CaseParticulars):
    """判决生效通知: the judgment took effect; the person must report by `report_by`."""

    judgment_date: date
    effective_date: date
    report_by: date  # 报到期限
    judge: str | None = Field(default=None, max_length=64)  # 承办法官
    contact_phone: str | None = Field(default=None, pattern=r"^[0-9+\-]{5,20}$")


class HandoverDocuments(CaseParticulars):
    """法律文书送达: the legal documents themselves travel as attachments of the envelope."""

    delivered_on: date
    remarks: str | None = Field(default=None, max_length=1000)


class Receipt(Contract):
    """送达回执: the justice bureau confirms what it received."""

    received_on: date
    received_documents: list[DocumentKind] = Field(min_length=1)
    signed_by: str = Field(min_length=1, max_length=64)  # 签收人
    remarks: str | None = Field(default=None, max_length=1000)


class MissingDocument(Contract):
    document_kind: DocumentKind
    reason: str = Field(min_length=1, max_length=500)


class CorrectionRequest(Contract):
    """补正通知: documents missing or defective, to be completed by `due_on`."""

    missing: list[MissingDocument] = Field(min_length=1)
    due_on: date
    contact: str | None = Field(default=None, max_length=64)


KINDS = [
    KindSpec(
        "handover.judgment_effective", "判决生效通知", JudgmentEffective, frozenset({Agency.court}), awaits_answer=True
    ),
    KindSpec("handover.documents", "法律文书送达", HandoverDocuments, frozenset({Agency.court}), awaits_answer=True),
    KindSpec(
        "handover.receipt",
        "送达回执",
        Receipt,
        frozenset({Agency.justice}),
        answers=frozenset({"handover.documents", "handover.judgment_effective"}),
    ),
    KindSpec(
        "handover.correction_request",
        "补正通知",
        CorrectionRequest,
        frozenset({Agency.justice}),
        answers=frozenset({"handover.documents", "handover.judgment_effective"}),
        settles=never,  # the loop stays open until the completed documents are received
    ),
]
