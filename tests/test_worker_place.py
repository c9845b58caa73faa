"""The worker's placement of a batch in the inbox, on a real SQLite file: each delivery once, its
evidence whole even when the relay has not yet marked it published, a second copy a redelivery,
and a delivery the store does not know set apart."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pika
from sqlalchemy import func, select

from gateway.directory import Directory, load_directory
from gateway.routing import Router
from gateway.services import Services
from gateway.settings import Settings
from gateway.store import AuditEntry, Delivery, OutboxEntry, Store, StoredMessage
from gateway.worker import Arrived, Rendered, Worker
from tests.conftest import DEMO_DIRECTORY
from tests.flows import COURT, JUSTICE_BUREAU, sample

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


class Channel:
    """What the worker does on the broker channel: acks (and, here, nothing else)."""

    def __init__(self) -> None:
        self.acked: list[tuple[int, bool]] = []

    def basic_ack(self, delivery_tag: int, multiple: bool = False) -> None:
        self.acked.append((delivery_tag, multiple))

    def basic_publish(self, *args: object, **kwargs: object) -> None:
        raise AssertionError(f"nothing should be retried or parked: {args}")


def test_a_batchs_alerts_are_placed_before_the_documents_that_arrived_with_them(tmp_path: Path) -> None:
    """A police station's alert and a court judgment for it arrive in one batch, the judgment first:
    the alert is committed first, in a transaction of its own, and the batch is acked once, after both."""
    settings = Settings(data_dir=tmp_path)
    load_directory(Services.build(settings).store, DEMO_DIRECTORY)
    services = Services.build(settings)
    judgment = services.acceptance.accept(services.directory.units[COURT], "court", sample("court", "handover.judgment_effective.xml"), [])
    alert = services.acceptance.accept(services.directory.units[JUSTICE_BUREAU], "canonical", sample("canonical", "supervision.alert.json"), [])
    with services.store.read() as session:
        entries = session.execute(select(OutboxEntry.routing_key, OutboxEntry.delivery_id, OutboxEntry.body).order_by(OutboxEntry.id)).all()
    police = {judgment.message_id: "police", alert.message_id: "police.live"}
    batch = [
        Arrived(SimpleNamespace(delivery_tag=tag, routing_key=key), pika.BasicProperties(message_id=delivery_id), body, push=False)
        for tag, (key, delivery_id, body) in enumerate(entries, 1)
        if key == police[json.loads(body)["message_id"]]
    ]
    assert [a.method.routing_key for a in batch] == ["police", "police.live"]
    worker = Worker(settings, services.store, services.router, "amqp://guest:guest@127.0.0.1:1/%2F", [])
    channel = Channel()
    worker._handle(channel, batch)  # type: ignore[arg-type]
    with services.store.read() as session:
        order = list(session.scalars(select(AuditEntry.subject).where(AuditEntry.event == "delivery.delivered").order_by(AuditEntry.id)))
        delivered = {d.delivery_id: d.delivered_at for d in session.scalars(select(Delivery).where(Delivery.delivered_at.is_not(None)))}
    assert order == [batch[1].properties.message_id, batch[0].properties.message_id]  # the alert first
    assert delivered[batch[1].properties.message_id] <= delivered[batch[0].properties.message_id]
    assert channel.acked == [(batch[-1].method.delivery_tag, True)]  # once, after both commits
