"""The worker's placement of a batch in the inbox, on a real SQLite file: each delivery once, its
evidence whole even when the relay has not yet marked it published, a second copy a redelivery,
and a delivery the store does not know set apart; and alerts placed in a lane of their own."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pika
import pytest
from pika.adapters.blocking_connection import BlockingChannel
from sqlalchemy import Row, func, select

from adapters.base import registry
from gateway.broker import DELIVERIES, declare_topology
from gateway.broker_node import RabbitNode
from gateway.directory import Directory, load_directory
from gateway.routing import Router
from gateway.services import Services
from gateway.settings import Settings
from gateway.store import AuditEntry, Delivery, OutboxEntry, Store, StoredMessage
from gateway.worker import Arrived, Rendered, Worker
from tests.conftest import DEMO_DIRECTORY, own_vhost
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


def publish(channel: BlockingChannel, entry: Row[Any]) -> None:
    """What the relay does with an outbox entry."""
    channel.basic_publish(DELIVERIES, entry.routing_key, entry.body, pika.BasicProperties(message_id=entry.delivery_id, delivery_mode=pika.DeliveryMode.Persistent))


@pytest.mark.broker
def test_an_alert_is_placed_while_the_worker_is_still_busy_with_documents(rabbit: RabbitNode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A police station's alert arrives while the worker renders a court judgment for the same
    police adapter: the alert is in the station's inbox before the judgment is done."""
    settings = Settings(data_dir=tmp_path)
    load_directory(Services.build(settings).store, DEMO_DIRECTORY)
    services = Services.build(settings)
    judgment = services.acceptance.accept(services.directory.units[COURT], "court", sample("court", "handover.judgment_effective.xml"), [])
    alert = services.acceptance.accept(services.directory.units[JUSTICE_BUREAU], "canonical", sample("canonical", "supervision.alert.json"), [])
    with services.store.read() as session:
        entries = session.execute(select(OutboxEntry.routing_key, OutboxEntry.delivery_id, OutboxEntry.body)).all()
    police = {judgment.message_id: "police", alert.message_id: "police.live"}
    judgment_copy, alert_copy = sorted(
        (entry for entry in entries if entry.routing_key == police[json.loads(entry.body)["message_id"]]), key=lambda entry: entry.routing_key
    )
    rendering, finish = threading.Event(), threading.Event()
    render = Worker._render

    def slow_for_the_judgment(self: Worker, item: Arrived, wire: dict[str, Any], message: dict[str, Any] | None) -> Rendered:
        if wire["message_id"] == judgment.message_id:
            rendering.set()
            finish.wait(10)
        return render(self, item, wire, message)

    def delivered(delivery_id: str) -> bool:
        with services.store.read() as session:
            return session.scalar(select(Delivery.delivered_at).where(Delivery.delivery_id == delivery_id)) is not None

    monkeypatch.setattr(Worker, "_render", slow_for_the_judgment)
    with own_vhost(rabbit, "xietong-worker-lanes") as broker_url, pika.BlockingConnection(pika.URLParameters(broker_url)) as connection:
        channel = connection.channel()
        declare_topology(channel, registry().keys(), settings.retry_delays_ms)
        worker = Worker(settings, services.store, services.router, broker_url, list(registry()))
        running = threading.Thread(target=worker.run)
        running.start()
        try:
            publish(channel, judgment_copy)
            assert rendering.wait(10), "the judgment never reached the worker"
            publish(channel, alert_copy)
            deadline = time.monotonic() + 5
            while not delivered(alert_copy.delivery_id) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert delivered(alert_copy.delivery_id), "the alert waited for the judgment"
            assert not delivered(judgment_copy.delivery_id)
        finally:
            finish.set()
            worker.stop()
            running.join(10)
    assert not running.is_alive(), "the worker did not stop"
    assert delivered(judgment_copy.delivery_id)
