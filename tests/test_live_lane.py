"""Alerts have a lane of their own: with documents for the same police adapter waiting in the
broker, a fence-breach alert reaches the police station in the worker's first batches, not after
the backlog. The stations' alerts must not queue behind the county's paperwork."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.broker_node import RabbitNode
from gateway.store import Delivery, OutboxEntry
from tests.conftest import gateway_in_vhost
from tests.flows import COURT, JUSTICE_BUREAU, PUBLIC_SECURITY, SUNWU_STATION, sample, submit

pytestmark = pytest.mark.broker

BACKLOG = 250  # court judgments, each with a copy for the county public security bureau (police XML)


def test_an_alert_overtakes_the_documents_waiting_for_the_same_adapter(rabbit: RabbitNode, tmp_path: Path) -> None:
    with gateway_in_vhost(rabbit, tmp_path, "xietong-live-lane", roles="api,relay") as gateway:
        judgment = sample("court", "handover.judgment_effective.xml")
        for n in range(BACKLOG):
            assert submit(gateway, COURT, "court", judgment + f"<!-- {n} -->".encode()).status_code == 202
        alert = submit(gateway, JUSTICE_BUREAU, "canonical", sample("canonical", "supervision.alert.json"))
        assert alert.status_code == 202, alert.text
        station = next(d["delivery_id"] for d in alert.json()["deliveries"] if d["recipient"] == SUNWU_STATION)

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
