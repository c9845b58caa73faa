"""Termination family (解除/终止社区矫正): the community corrections ends and every party that
followed the person is told, the grid so that its visits stop (社区矫正法第四十四条至第四十六条)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import Field, model_validator

from contracts.catalog import KindSpec
from contracts.common import Agency, Contract, DocumentKind, Person, Sentence


class TerminationReason(StrEnum):
    expiry = "expiry"  # 矫正期满解除（发给解除社区矫正证明书）
    death = "death"  # 死亡终止
    revocation = "revocation"  # 撤销缓刑、假释或收监执行而终止
    other = "other"  # 其他


class TerminationNotice(Contract):
    """解除/终止社区矫正通知: why and from when the person is no longer under community corrections.
    At expiry the 解除社区矫正证明书 travels as an attachment."""

    person: Person
    sentence: Sentence
    reason: TerminationReason
    effective_on: date  # 解除或终止之日（死亡终止为死亡之日）
    circumstances: str | None = Field(default=None, max_length=1000)  # 情况说明
    conduct: str | None = Field(default=None, max_length=1000)  # 矫正期间表现

    @model_validator(mode="after")
    def _consistent(self) -> TerminationNotice:
        if self.reason is TerminationReason.expiry and self.effective_on < self.sentence.correction_end:
            raise ValueError(f"矫正期满解除之日{self.effective_on}早于矫正期限届满日{self.sentence.correction_end}")
        if self.reason is not TerminationReason.expiry and not self.circumstances:
            raise ValueError("非矫正期满解除的，应当写明情况说明")
        return self


def certificate_at_expiry(notice: Mapping[str, Any]) -> frozenset[DocumentKind]:
    """At expiry the person is given the 解除社区矫正证明书, and every party gets its copy (实施办法第五十三条)."""
    return frozenset({DocumentKind.termination_certificate}) if notice["reason"] == TerminationReason.expiry else frozenset()


KINDS = [
    KindSpec("termination.notice", "解除/终止社区矫正通知", TerminationNotice, frozenset({Agency.justice}), documents=certificate_at_expiry),
]
