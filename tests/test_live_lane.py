"""Alerts have a lane of their own: with documents waiting in the outbox, a fence-breach alert is
among the relay's first publishes; with documents for the same police adapter waiting in the
broker, it reaches the police station in the worker's first batches, not after the backlog. The
stations' alerts must not queue behind the county's paperwork."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pika
import pytest
from sqlalchemy import func, select

from adapters.base import registry
from gateway.broker import queue_of, routing_key_of
from gateway.broker_node import RabbitNode
from gateway.store import Delivery, OutboxEntry
from tests.conftest import RunningGateway, gateway_in_vhost
from tests.flows import COURT, JUSTICE_BUREAU, PUBLIC_SECURITY, SUNWU_STATION, sample, submit

pytestmark = pytest.mark.broker

BACKLOG = 250  # court judgments, each with a copy for the county public security bureau (police XML)


def submit_backlog_then_alert(gateway: RunningGateway) -> str:
    """The backlog of judgments, then one fence-breach alert: the id of its delivery to the station."""
    judgment = sample("court", "handover.judgment_effective.xml")
    for n in range(BACKLOG):
        assert submit(gateway, COURT, "court", judgment + f"<!-- {n} -->".encode()).status_code == 202
    alert = submit(gateway, JUSTICE_BUREAU, "canonical", sample("canonical", "supervision.alert.json"))
    assert alert.status_code == 202, alert.text
    return next(d["delivery_id"] for d in alert.json()["deliveries"] if d["recipient"] == SUNWU_STATION)


def test_the_relay_publishes_an_alert_before_the_documents_waiting_in_the_outbox(rabbit: RabbitNode, tmp_path: Path) -> None:
    with gateway_in_vhost(rabbit, tmp_path, "xietong-relay-lane", roles="api") as gateway:
        submit_backlog_then_alert(gateway)
        # a narrow window of publishes in flight, so that what goes first shows in the queues
        relay = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "relay"],
            env={**gateway.env, "XIETONG_RELAY_MAX_IN_FLIGHT": "20"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            with pika.BlockingConnection(pika.URLParameters(gateway.broker_url)) as connection:
                channel = connection.channel()

                def queued(live: bool) -> int:
                    return sum(channel.queue_declare(queue_of(routing_key_of(a, live)), passive=True).method.message_count for a in registry())

                deadline, alerts = time.monotonic() + 60, 0
                while not alerts and time.monotonic() < deadline:
                    try:
                        alerts, documents = queued(live=True), queued(live=False)
                    except pika.exceptions.ChannelClosedByBroker:  # the relay has not declared the queues yet
                        channel = connection.channel()
                        time.sleep(0.05)
        finally:
            relay.terminate()
            relay.wait(30)
    assert alerts, "the alert never reached the broker"
    assert documents < BACKLOG // 2, f"{documents} waiting documents' deliveries were published before the alert"


def test_an_alert_overtakes_the_documents_waiting_for_the_same_adapter(rabbit: RabbitNode, tmp_path: Path) -> None:
    with gateway_in_vhost(rabbit, tmp_path, "xietong-live-lane", roles="api,relay") as gateway:
        station = submit_backlog_then_alert(gateway)

        store = gateway.store()
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # everything is in the broker before any worker runs
                with store.read() as session:
                    if not session.scalar(select(func.count()).select_from(OutboxEntry).where(OutboxEntry.published_at.is_(None))):
                        break
                time.sleep(0.1)
            worker = subprocess.Popen([sys.executable, "-m", "gateway.cli", "worker"], env=gateway.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                deadline = time.monotonic() + 60
                delivered_at = None
                while delivered_at is None and time.monotonic() < deadline:
                    with store.read() as session:
                        delivered_at = session.scalar(select(Delivery.delivered_at).where(Delivery.delivery_id == station))
                    time.sleep(0.02)
                assert delivered_at is not None, "the alert never reached the station"
                with store.read() as session:
                    before = session.scalar(
                        select(func.count())
                        .select_from(Delivery)
                        .where(Delivery.recipient_code == PUBLIC_SECURITY, Delivery.delivered_at.is_not(None), Delivery.delivered_at < delivered_at)
                    )
            finally:
                worker.terminate()
                worker.wait(30)
        finally:
            store.engine.dispose()
    assert before is not None and before < BACKLOG // 2, f"{before} of {BACKLOG} waiting documents went first"
