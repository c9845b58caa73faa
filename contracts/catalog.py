"""The catalog of message kinds: each family module declares its kinds in `KINDS`.

Adding a kind touches its family module only; the catalog finds it by scanning this package.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any

from pydantic import BaseModel

import contracts
from contracts.common import Agency, DocumentKind
from contracts.envelope import Draft, Message


def always(_payload: Mapping[str, Any]) -> bool:
    return True


def never(_payload: Mapping[str, Any]) -> bool:
    return False


def any_answered(_answered: Mapping[str, Any]) -> str | None:
    return None


def no_documents(_payload: Mapping[str, Any]) -> frozenset[DocumentKind]:
    return frozenset()


@dataclass(frozen=True)
class KindSpec:
    """A message kind: its payload model, who may send it, what it answers, and how it moves a
    conversation (an open loop between agencies that somebody owes an answer to)."""

    kind: str
    title: str  # 中文名称
    payload: type[BaseModel]
    senders: frozenset[Agency]
    answers: frozenset[str] = field(default_factory=frozenset)  # kinds it may reply to
    awaits_answer: bool = False  # opens a loop: the recipient owes an answer (e.g. 调查评估委托)
    settles: Callable[[Mapping[str, Any]], bool] = always  # whether this answer (payload, JSON form) closes the loop
    live: bool = False  # an alert: pushed at once to the live stream of every recipient
    # Why the answered message (its payload, JSON form) does not admit this reply, in Chinese; None
    # when it does. E.g. no transfer decision may follow the new place's refusal.
    objection: Callable[[Mapping[str, Any]], str | None] = any_answered
    # The legal documents of which one at least must travel with it, given its payload (JSON form):
    # the 解除社区矫正证明书 with a notice of expiry.
    documents: Callable[[Mapping[str, Any]], frozenset[DocumentKind]] = no_documents
    # Whether this message (its payload, JSON form) puts its case on the coordinators' list of
    # cases at risk: an alert, a missed report, a warning, a new offence.
    at_risk: Callable[[Mapping[str, Any]], bool] = never

    @cached_property
    def message_model(self) -> type[Message[Any]]:
        """Held here: pydantic keeps its parametrised models only weakly, and building one again
        after a garbage collection cost milliseconds in the middle of an acceptance."""
        return Message[self.payload]  # type: ignore[name-defined]

    @cached_property
    def draft_model(self) -> type[Draft[Any]]:
        return Draft[self.payload]  # type: ignore[name-defined]


class UnknownKind(LookupError):
    def __init__(self, kind: str) -> None:
        super().__init__(f"未知的报文类型“{kind}”")
        self.kind = kind


@cache
def kinds() -> dict[str, KindSpec]:
    found: dict[str, KindSpec] = {}
    for info in pkgutil.iter_modules(contracts.__path__):
        module = importlib.import_module(f"contracts.{info.name}")
        for spec in getattr(module, "KINDS", ()):
            if spec.kind in found:
                raise RuntimeError(f"message kind {spec.kind} declared twice")
            found[spec.kind] = spec
    return found


def spec_of(kind: str) -> KindSpec:
    try:
        return kinds()[kind]
    except KeyError:
        raise UnknownKind(kind) from None


def parse_message(data: dict[str, Any]) -> Message[Any]:
    """Validate a canonical message against the payload model its kind names."""
    return spec_of(str(data.get("kind"))).message_model.model_validate(data)
