"""Verification of the hash-chained audit log: the evidence that nothing was altered, removed,
reordered or cut off.

Each entry hashes its content with the hash before it, so a change anywhere breaks the chain from
there on. Cutting entries off the end leaves a shorter chain that is still whole; only a head
kept outside the database (an anchor: an entry's hash an operator wrote down, or sent to another
agency) shows it, so verification takes the anchors that must still be in the chain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from gateway.store import GENESIS, AuditEntry, Store, entry_hash


@dataclass(frozen=True)
class Verdict:
    intact: bool
    count: int  # entries verified (up to the first fault)
    head: str  # the hash of the last verified entry: the anchor to keep
    problem: str | None  # in Chinese, for the operator; None when intact


def _as_utc(at: datetime) -> datetime:
    """Entries are hashed with an aware UTC time; SQLite gives it back naive, PostgreSQL in the session's zone."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def verify_chain(store: Store, anchors: Iterable[str] = ()) -> Verdict:
    """Walk the chain from the start; stop at the first entry whose content or position was
    changed, and check that every anchor is still one of its entries."""
    missing = {anchor.strip().lower() for anchor in anchors}
    previous, expected_id, count = GENESIS, 1, 0
    with store.read() as session:
        for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)).yield_per(1000):
            if entry.id != expected_id:
                return Verdict(False, count, previous, f"审计日志断链：第{expected_id}条缺失或顺序被改动（下一条为第{entry.id}条）")
            if entry.prev_hash != previous or entry.hash != entry_hash(
                entry.id, _as_utc(entry.at), entry.actor, entry.event, entry.subject, entry.details, previous
            ):
                return Verdict(False, count, previous, f"审计日志被篡改：第{entry.id}条（{entry.event}）的内容或前序哈希不符")
            missing.discard(entry.hash)
            previous, expected_id, count = entry.hash, expected_id + 1, count + 1
    if missing:
        return Verdict(False, count, previous, f"审计日志被截断：锚定的链上哈希 {'、'.join(sorted(missing))} 已不在链中（现存{count}条）")
    return Verdict(True, count, previous, None)
