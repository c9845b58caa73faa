"""Cases at risk (风险案件) on the coordinators' board: the cases of a division that a recent
message flags (an alert, a missed report, a warning, a new offence: `KindSpec.at_risk`) or that
have an overdue obligation, the most troubled first, so that a joint meeting takes them up before
a person slips out of supervision (脱管漏管).

A coordinator sees which messages flagged a case (title, sender, time), never their payloads."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts.catalog import kinds, never
from gateway.directory import Directory
from gateway.store import StoredMessage

WINDOW = timedelta(days=30)  # how far back a flag keeps a case on the board


@dataclass(frozen=True)
class Flag:
    message_id: str
    title: str
    sender_name: str
    received_at: datetime


@dataclass(frozen=True)
class CaseAtRisk:
    case_number: str
    flags: tuple[Flag, ...]  # newest first
    overdue: tuple[str, ...]  # the titles of its overdue obligations


def cases_at_risk(
    session: Session, directory: Directory, division_code: str, overdue: Mapping[str, Sequence[str]], now: datetime
) -> list[CaseAtRisk]:
    """The division's cases flagged within `WINDOW` before `now` by a message one of its units sent
    or received, and the cases with overdue obligations (`overdue`: case number -> their titles, as
    the coordinator's GET /v1/obligations lists them); most flags and overdue items first."""
    catalog = kinds()
    flagging = [kind for kind, spec in catalog.items() if spec.at_risk is not never]
    candidates = session.scalars(
        select(StoredMessage).where(
            StoredMessage.kind.in_(flagging),
            StoredMessage.received_at >= (now - WINDOW).astimezone(UTC),
            directory.involving(division_code),
        )
    ).all()
    flags: dict[str, list[Flag]] = defaultdict(list)
    for message in candidates:
        if catalog[message.kind].at_risk(json.loads(message.body)["payload"]):
            sender = directory.units.get(message.sender_code)
            name = sender.name if sender else message.sender_code
            flags[message.case_number].append(Flag(message.message_id, catalog[message.kind].title, name, message.received_at))
    found = [
        CaseAtRisk(case, tuple(sorted(flags.get(case, ()), key=lambda f: f.received_at, reverse=True)), tuple(overdue.get(case, ())))
        for case in {*flags, *overdue}
    ]
    return sorted(found, key=lambda c: (-(len(c.flags) + len(c.overdue)), c.case_number))
