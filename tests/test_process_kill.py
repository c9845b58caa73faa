"""Killing any gateway process (kill -9) during a load loses nothing acknowledged and doubles nothing."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from gateway.broker_node import RabbitNode
from gateway.cli import role_pids
from gateway.demo import wait_healthy
from gateway.store import AuditEntry, Delivery
from tests.conftest import RunningGateway, prepare_gateway
from tests.test_handover_flow import COURT, COURT_SAMPLES, wait_delivered

pytestmark = pytest.mark.broker

AT_LEAST = 300  # submissions, at the least


@pytest.fixture(scope="module")
def own_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """A node and gateway of this module's own: two gateways on one broker would share queues."""
    node = RabbitNode(tmp_path_factory.mktemp("kill-rabbit"), name="xietong-kill")
    node.start()
    gateway = prepare_gateway(tmp_path_factory.mktemp("kill-gateway"), node.url)
    gateway.start()
    yield gateway
    gateway.stop()
    node.stop()


def role_pid(supervisor: int, role: str) -> int:
    """The pid of the child of `xietong run` that plays `role` (KeyError: none does)."""
    return role_pids(supervisor)[role]


def submit_until_acknowledged(client: httpx.Client, body: bytes) -> str:
    """A sender retries until it holds a 202; the same bytes again are the same message."""
    while True:
        try:
            response = client.post("/v1/inbound/court", content=body, headers={"Content-Type": "application/xml"})
            if response.status_code == 202:
                return str(response.json()["message_id"])
        except httpx.HTTPError:
            pass
        time.sleep(0.1)


def test_kill_each_process_in_turn_during_load(own_gateway: RunningGateway) -> None:
    sample = (COURT_SAMPLES / "handover.judgment_effective.xml").read_bytes()
    acknowledged: list[str] = []

    killed = threading.Event()

    def load() -> None:
        """Submits until every role has been killed and then `AT_LEAST` in all: however fast the
        gateway, each kill lands in the middle of the load."""
        with own_gateway.client(COURT) as court:
            n = 0
            while not killed.is_set() or n < AT_LEAST:
                acknowledged.append(submit_until_acknowledged(court, sample + f"<!-- kill {n} -->".encode()))
                n += 1

    sender = threading.Thread(target=load)
    sender.start()
    assert own_gateway.process is not None
    for role in ("api", "relay", "worker"):
        time.sleep(1.0)
        os.kill(role_pid(own_gateway.process.pid, role), signal.SIGKILL)
    time.sleep(1.0)  # and a little load after the last kill
    killed.set()
    sender.join(120)
    assert not sender.is_alive()
    total = len(acknowledged)
    assert len(set(acknowledged)) == total >= AT_LEAST

    with own_gateway.client(COURT) as court:
        wait_healthy(own_gateway.base_url, timeout=30)
        statuses = [wait_delivered(court, message_id, timeout=60) for message_id in acknowledged]
    assert all(status["status"] == "delivered" for status in statuses)
    store = own_gateway.store()
    with store.read() as session:
        ours = select(Delivery.delivery_id).where(Delivery.message_id.in_(acknowledged))
        deliveries = session.scalar(select(func.count()).select_from(ours.subquery()))
        # the judgments are long overdue: each restart of the worker's watch sends notices of its own
        delivered = select(func.count()).select_from(AuditEntry).where(AuditEntry.event == "delivery.delivered", AuditEntry.subject.in_(ours))
        delivered_events = session.scalar(delivered)
    store.engine.dispose()
    assert deliveries == total * 3
    assert delivered_events == deliveries
