"""Transfer family (执行地变更): the bureau of the current place asks the bureau of the new place
for its opinion, and once it consents decides the transfer and tells the parties of both places
(社区矫正法第二十七条，实施办法第三十条)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from pydantic import Field, model_validator

from contracts.catalog import KindSpec, never
from contracts.common import Address, Agency, Contract, Person, Sentence


class TransferParticulars(Contract):
    """The person, the sentence and the new residence, which must lie in another county."""

    person: Person  # 居住地为现执行地
    sentence: Sentence
    new_residence: Address  # 新执行地

    @model_validator(mode="after")
    def _another_county(self) -> TransferParticulars:
        if self.new_residence.division_code == self.person.residence.division_code:
            raise ValueError(
                f"新居住地与现执行地同属行政区划{self.new_residence.division_code}，县内变更居住地无需变更执行地"
            )
        return self


class TransferRequest(TransferParticulars):
    """变更执行地征求意见函: the person applied; the new place's bureau is asked to consent."""

    reason: str = Field(min_length=1, max_length=500)  # 变更理由
    applied_on: date  # 社区矫正对象提出书面申请的日期
    contact: str | None = Field(default=None, max_length=64)  # 联系人及电话


class TransferReply(Contract):
    """变更执行地回复: the new place's bureau agrees or refuses, and says which 司法所 takes charge."""

    agreed: bool
    replied_on: date
    reasons: str | None = Field(default=None, max_length=1000)  # 意见及理由
    receiving_office: str | None = Field(default=None, max_length=200)  # 拟接收的司法所

    @model_validator(mode="after")
    def _explained(self) -> TransferReply:
        if not self.agreed and not self.reasons:
            raise ValueError("不同意变更执行地的，应当说明理由")
        if not self.agreed and self.receiving_office:
            raise ValueError("不同意变更执行地的，不应指定接收司法所")
        return self


class TransferNotice(TransferParticulars):
    """变更执行地决定通知: decided after consent; the person must report at the new place by
    `report_by`. The case file (一人一档) travels as attachments."""

    reason: str = Field(min_length=1, max_length=500)  # 变更理由
    decided_on: date
    report_by: date  # 到新执行地社区矫正机构报到的期限
    receiving_office: str | None = Field(default=None, max_length=200)  # 新执行地接收的司法所

    @model_validator(mode="after")
    def _report_after_decision(self) -> TransferNotice:
        if self.report_by < self.decided_on:
            raise ValueError(f"报到期限{self.report_by}早于决定日期{self.decided_on}")
        return self


def unless_agreed(reply: Mapping[str, Any]) -> str | None:
    """A transfer may be decided only on the new place's consent (实施办法第三十条)."""
    return None if reply["agreed"] else "新执行地社区矫正机构不同意变更执行地，不能据此作出变更决定；请重新征求意见或另行选择执行地"


KINDS = [
    KindSpec(
        "transfer.request", "变更执行地征求意见函", TransferRequest, frozenset({Agency.justice}), awaits_answer=True
    ),
    KindSpec(
        "transfer.reply",
        "变更执行地回复",
        TransferReply,
        frozenset({Agency.justice}),
        answers=frozenset({"transfer.request"}),
    ),
    KindSpec(
        "transfer.notice",
        "变更执行地决定通知",
        TransferNotice,
        frozenset({Agency.justice}),
        # The decision may only follow the new place's answer: naming it lets the gateway check that
        # the deciding bureau asked, in the same case. The reply already settled the request.
        answers=frozenset({"transfer.reply"}),
        settles=never,
        objection=unless_agreed,
    ),
]
