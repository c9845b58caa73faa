"""The worker's placement of a batch in the inbox, on a real SQLite file: each delivery once, its
evidence whole even when the relay has not yet marked it published, a second copy a redelivery,
and a delivery the store does not know set apart."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from gateway.directory import Directory, load_directory
from gateway.routing import Router
from gateway.settings import Settings
from gateway.store import AuditEntry, Delivery, Store, StoredMessage
from gateway.worker import Rendered, Worker
from tests.conftest import DEMO_DIRECTORY
from tests.flows import COURT, JUSTICE_BUREAU

PUBLISHED = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def rendered(delivery_id: str) -> Rendered:
    return Rendered(None, delivery_id, JUSTICE_BUREAU, "canonical", "application/json", b"{}", "0" * 64)  # type: ignore[arg-type]


def test_a_batch_is_placed_once_with_its_evidence_whole(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'xietong.db'}")
    load_directory(store, DEMO_DIRECTORY)
    now = datetime.now(UTC)
    with store.write() as session:
        session.add(StoredMessage(message_id="m1", kind="handover.receipt", case_number="（2025）鲁1621刑初123号", sender_code=COURT, in_reply_to=None,
                                  idempotency_key="k1", received_at=now, source_sha256="0" * 64, body="{}"))
        session.flush()
        for delivery_id, published in (("d-confirmed", PUBLISHED), ("d-unconfirmed", None)):
            session.add(Delivery(delivery_id=delivery_id, message_id="m1", recipient_code=JUSTICE_BUREAU, role="r", rule="r",
                                 projection="full", adapter="canonical", accepted_at=now, published_at=published, attempts=0))
    settings = Settings(data_dir=tmp_path)
    worker = Worker(settings, store, Router.from_folder(settings.routing_rules, Directory(store)), "amqp://guest:guest@127.0.0.1:1/%2F", [])
    batch = [rendered("d-confirmed"), rendered("d-unconfirmed"), rendered("d-confirmed"), rendered("d-unknown")]
    with store.write() as session:
        placed, missing = worker._place_in(session, batch)
    assert [i.delivery_id for i in placed] == ["d-confirmed", "d-unconfirmed"]  # the second copy is a redelivery
    assert [i.delivery_id for i in missing] == ["d-unknown"]
    with store.read() as session:
        rows = {d.delivery_id: d for d in session.scalars(select(Delivery))}
        delivered = session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.event == "delivery.delivered"))
    assert rows["d-confirmed"].published_at.replace(tzinfo=UTC) == PUBLISHED  # the relay's mark is kept
    assert rows["d-unconfirmed"].published_at is not None  # consumed, so published, before the relay's mark
    assert all(row.delivered_at is not None and row.rendered == b"{}" for row in rows.values())
    assert delivered == 2

    with store.write() as session:
        placed, missing = worker._place_in(session, [rendered("d-unconfirmed")])
    assert placed == [] and missing == []  # redelivered after a crash: no second effect
