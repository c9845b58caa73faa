"""Conversations and case timelines across agencies, each seen through the caller's projection.

A message whose kind `awaits_answer` opens a loop; a reply (a kind that `answers`) closes the
nearest loop up its `in_reply_to` chain when its kind `settles` it (an oversight notice stays open through the
bureau's rectification replies until the procuratorate's conclusion accepts one). Nobody sees
a message they neither sent nor received, and a recipient sees it only as its projection.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from contracts.catalog import spec_of
from gateway.routing import Router
from gateway.store import Delivery, StoredMessage

MAX_CONVERSATION = 500  # messages walked in one conversation: a bound, not a business rule


@dataclass(frozen=True)
class Loop:
    """A message that awaits an answer, and the reply that settled it (None while open)."""

    message_id: str
    kind: str
    settled_by: str | None


def loops(messages: Iterable[Mapping[str, Any]]) -> list[Loop]:
    """The loops among `messages` (canonical JSON, any order): pure, so the rule is testable alone."""
    by_id = {str(m["message_id"]): m for m in messages}
    settled: dict[str, str] = {}
    for reply in sorted(by_id.values(), key=lambda m: str(m["received_at"])):
        spec = spec_of(reply["kind"])
        if not spec.answers or not spec.settles(reply["payload"]):
            continue
        parent = by_id.get(str(reply.get("in_reply_to")))
        while parent is not None and not spec_of(parent["kind"]).awaits_answer:
            parent = by_id.get(str(parent.get("in_reply_to")))
        if parent is not None:
            settled.setdefault(str(parent["message_id"]), str(reply["message_id"]))
    return [
        Loop(message_id, message["kind"], settled.get(message_id))
        for message_id, message in by_id.items()
        if spec_of(message["kind"]).awaits_answer
    ]


@dataclass(frozen=True)
class Seen:
    """A stored message as one unit may see it."""

    message: StoredMessage
    role: str  # "sender" or "recipient"
    view: dict[str, Any]


def visible(session: Session, router: Router, unit_code: str, messages: Iterable[StoredMessage]) -> list[Seen]:
    """Of `messages`, those `unit_code` sent (seen whole) or had delivered (seen as its projection)."""
    candidates = list(messages)
    projections = dict(
        session.execute(
            select(Delivery.message_id, Delivery.projection).where(
                Delivery.message_id.in_([m.message_id for m in candidates]),
                Delivery.recipient_code == unit_code,
                Delivery.delivered_at.is_not(None),
            )
        ).all()
    )
    seen: list[Seen] = []
    for message in candidates:
        body = json.loads(message.body)
        if message.sender_code == unit_code:
            seen.append(Seen(message, "sender", body))
        elif message.message_id in projections:
            seen.append(Seen(message, "recipient", router.project(body, projections[message.message_id])))
    return seen


def conversation(session: Session, message_id: str) -> list[StoredMessage]:
    """Every message of the conversation `message_id` belongs to: up to its root, then all replies."""
    root = session.get(StoredMessage, message_id)
    if root is None:
        return []
    walked = 0
    while root.in_reply_to and walked < MAX_CONVERSATION:
        parent = session.get(StoredMessage, root.in_reply_to)
        if parent is None:
            break
        root, walked = parent, walked + 1
    found = {root.message_id: root}
    frontier = [root.message_id]
    while frontier and len(found) < MAX_CONVERSATION:
        replies = session.scalars(select(StoredMessage).where(StoredMessage.in_reply_to.in_(frontier))).all()
        frontier = [reply.message_id for reply in replies if reply.message_id not in found]
        found.update({reply.message_id: reply for reply in replies})
    return sorted(found.values(), key=lambda m: m.received_at)


def case_messages(session: Session, case_key: str) -> list[StoredMessage]:
    """A case's messages by person key (the same person across cases) or by case number."""
    query = select(StoredMessage).where(or_(StoredMessage.person_key == case_key, StoredMessage.case_number == case_key))
    return list(session.scalars(query.order_by(StoredMessage.received_at).limit(MAX_CONVERSATION)).all())


def entry(seen: Seen) -> dict[str, Any]:
    """One line of a timeline or conversation: what happened, who said it, and the caller's view."""
    message = seen.message
    return {
        "message_id": message.message_id,
        "kind": message.kind,
        "title": spec_of(message.kind).title,
        "in_reply_to": message.in_reply_to,
        "sender": message.sender_code,
        "received_at": message.received_at,
        "role": seen.role,
        "message": seen.view,
    }


def loop_states(seen: list[Seen]) -> list[dict[str, Any]]:
    """The loops among what the caller sees, open or settled, each with what opened it."""
    bodies = [json.loads(s.message.body) for s in seen]
    received: dict[str, datetime] = {s.message.message_id: s.message.received_at for s in seen}
    return [
        {
            "message_id": loop.message_id,
            "kind": loop.kind,
            "title": spec_of(loop.kind).title,
            "opened_at": received[loop.message_id],
            "status": "settled" if loop.settled_by else "open",
            "settled_by": loop.settled_by,
        }
        for loop in loops(bodies)
    ]
