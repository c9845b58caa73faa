"""A push that keeps failing is retried with growing delays, then parked and listed; after the fault
is fixed it is replayed (all, or one by id) and delivered once."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pika
import pytest
from sqlalchemy import select, update

from gateway.broker import DEAD, DELIVERIES
from gateway.broker_node import RabbitNode, free_port
from gateway.store import AuditEntry, Delivery, Unit
from tests.conftest import RunningGateway, gateway_in_vhost
from tests.test_handover_flow import COURT, COURT_SAMPLES, PROCURATORATE, delivery_to, wait_delivered
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.broker

VHOST = "xietong-dlq-test"


@pytest.fixture(scope="module")
def dlq_gateway(rabbit: RabbitNode, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    extra = {"XIETONG_DELIVERY_ATTEMPTS": "2", "XIETONG_RETRY_DELAYS_MS": "[200]"}
    with gateway_in_vhost(rabbit, tmp_path_factory.mktemp("dlq-gateway"), "xietong-dlq-test", extra) as gateway:
        yield gateway


def xietong(gateway: RunningGateway, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], env=gateway.env, capture_output=True, text=True, timeout=60)


def dead_count(gateway: RunningGateway) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(gateway.broker_url))
    try:
        return int(connection.channel().queue_declare(DEAD, passive=True).method.message_count)
    finally:
        connection.close()


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_a_parked_push_is_listed_and_replayed_exactly_once(dlq_gateway: RunningGateway) -> None:
    gateway = dlq_gateway
    port = free_port()  # nothing listens yet: every push attempt is refused
    store = gateway.store()
    with store.write() as session:
        session.execute(update(Unit).where(Unit.code == PROCURATORATE).values(webhook_url=f"http://127.0.0.1:{port}/xietong"))
    document = (COURT_SAMPLES / "handover.judgment_effective.xml").read_bytes() + b"\n<!-- dlq -->\n"
    with gateway.client(COURT) as court:
        accepted = court.post("/v1/inbound/court", content=document, headers={"Content-Type": "application/xml"}).json()
        delivery_id = delivery_to(wait_delivered(court, accepted["message_id"]), PROCURATORATE)["delivery_id"]

    def parked() -> bool:
        with store.read() as session:
            error = session.scalar(select(Delivery.last_error).where(Delivery.delivery_id == delivery_id))
        return bool(error) and dead_count(gateway) == 1

    assert wait_for(parked), (gateway.data_dir / "gateway.log").read_text()[-3000:]

    listed = xietong(gateway, "dlq", "list")
    assert listed.returncode == 0, listed.stderr
    line = next(line for line in listed.stdout.splitlines() if line.startswith(delivery_id))
    assert "\tpush\t" in line and "尝试2次" in line and PROCURATORATE in line and "ConnectError" in line
    assert dead_count(gateway) == 1  # listing left it parked
    shown = xietong(gateway, "dlq", "show", delivery_id)
    assert shown.returncode == 0 and f'"delivery_id": "{delivery_id}"' in shown.stdout and "ConnectError" in shown.stdout

    receiver = WebhookReceiver(port)  # the fault is fixed
    try:
        replayed = xietong(gateway, "dlq", "replay", "--all")
        assert replayed.returncode == 0, replayed.stdout + replayed.stderr
        assert f"已重放：{delivery_id}" in replayed.stdout

        def pushed() -> bool:
            with store.read() as session:
                return session.scalar(select(Delivery.pushed_at).where(Delivery.delivery_id == delivery_id)) is not None

        assert wait_for(pushed)
        time.sleep(1)  # room for a second (wrong) push to show up
        assert [h["X-Xietong-Delivery-Id"] for h, _ in receiver.received] == [delivery_id]
        assert dead_count(gateway) == 0
        with store.read() as session:
            events = session.scalars(select(AuditEntry.event).where(AuditEntry.subject == delivery_id)).all()
        assert "delivery.replayed" in events
        assert xietong(gateway, "audit", "verify").returncode == 0
    finally:
        receiver.close()
        store.engine.dispose()


def push_judgments(gateway: RunningGateway, count: int, port: int, tag: str) -> list[str]:
    """`count` court judgments (made distinct by `tag`) pushed to the procuratorate's webhook on
    `port`; their procuratorate delivery ids once each is in its inbox."""
    store = gateway.store()
    with store.write() as session:
        session.execute(update(Unit).where(Unit.code == PROCURATORATE).values(webhook_url=f"http://127.0.0.1:{port}/xietong"))
    store.engine.dispose()
    base = (COURT_SAMPLES / "handover.judgment_effective.xml").read_bytes()
    with gateway.client(COURT) as court:
        accepted = [
            court.post("/v1/inbound/court", content=base + f"\n<!-- {tag} {n} -->\n".encode(), headers={"Content-Type": "application/xml"}).json()
            for n in range(count)
        ]
        return [delivery_to(wait_delivered(court, a["message_id"]), PROCURATORATE)["delivery_id"] for a in accepted]


def park_pushes(gateway: RunningGateway, count: int, port: int, tag: str) -> list[str]:
    """`count` court judgments whose push to the procuratorate (webhook on `port`, nothing listening)
    fails every attempt; returns their delivery ids once all are parked."""
    ids = push_judgments(gateway, count, port, tag)
    store = gateway.store()

    def all_parked() -> bool:
        with store.read() as session:
            parked = set(session.scalars(select(AuditEntry.subject).where(AuditEntry.event == "delivery.dead_lettered", AuditEntry.subject.in_(ids))))
        return parked == set(ids)

    try:
        assert wait_for(all_parked), (gateway.data_dir / "gateway.log").read_text()[-3000:]
    finally:
        store.engine.dispose()
    return ids


def test_replaying_one_delivery_by_id_replays_that_one_only_and_delivers_it_once(dlq_gateway: RunningGateway) -> None:
    """An operator replays the one delivery whose fault is fixed; the others stay parked for later."""
    gateway = dlq_gateway
    port = free_port()
    chosen, other = park_pushes(gateway, 2, port, "one by id")
    assert wait_for(lambda: dead_count(gateway) == 2)
    store = gateway.store()
    receiver = WebhookReceiver(port)  # the fault is fixed

    def pushed(delivery_id: str) -> bool:
        with store.read() as session:
            return session.scalar(select(Delivery.pushed_at).where(Delivery.delivery_id == delivery_id)) is not None

    def pushes() -> list[str]:
        return [headers["X-Xietong-Delivery-Id"] for headers, _ in receiver.received]

    try:
        replayed = xietong(gateway, "dlq", "replay", chosen)
        assert replayed.returncode == 0, replayed.stdout + replayed.stderr
        assert f"已重放：{chosen}" in replayed.stdout and "共重放1条" in replayed.stdout and other not in replayed.stdout
        assert wait_for(lambda: pushed(chosen))
        assert pushes() == [chosen]
        assert not pushed(other)  # still parked, listed, untouched
        assert dead_count(gateway) == 1
        listed = xietong(gateway, "dlq", "list")
        assert [line.split("\t")[0] for line in listed.stdout.splitlines()[:-1]] == [other], listed.stdout

        again = xietong(gateway, "dlq", "replay", other)  # a stray second push of `chosen` would queue before this one
        assert again.returncode == 0 and f"已重放：{other}" in again.stdout, again.stdout + again.stderr
        assert wait_for(lambda: pushed(other))
        assert pushes() == [chosen, other]  # each delivered once
        assert dead_count(gateway) == 0
        with store.read() as session:
            replays = session.scalars(select(AuditEntry.subject).where(AuditEntry.event == "delivery.replayed", AuditEntry.subject.in_([chosen, other])))
            assert sorted(replays) == sorted([chosen, other])
    finally:
        receiver.close()
        with store.write() as session:
            session.execute(update(Unit).where(Unit.code == PROCURATORATE).values(webhook_url=None))
        store.engine.dispose()


RETRY_DELAYS_MS = (200, 1000, 3000)


@pytest.fixture(scope="module")
def backoff_gateway(rabbit: RabbitNode, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """Four attempts, the retry delays growing (shortened from the production 1 s, 5 s, 30 s, 2 min)."""
    extra = {"XIETONG_DELIVERY_ATTEMPTS": "4", "XIETONG_RETRY_DELAYS_MS": json.dumps(RETRY_DELAYS_MS)}
    with gateway_in_vhost(rabbit, tmp_path_factory.mktemp("backoff-gateway"), "xietong-backoff-test", extra) as gateway:
        yield gateway


def test_a_failing_push_is_retried_with_growing_delays_then_parked(backoff_gateway: RunningGateway) -> None:
    """Retries back off rather than hammer a recipient that is down, and stop after the set number."""
    gateway = backoff_gateway
    (delivery_id,) = park_pushes(gateway, 1, free_port(), "backoff")
    store = gateway.store()
    with store.read() as session:
        failures = session.execute(
            select(AuditEntry.at, AuditEntry.event, AuditEntry.details)
            .where(AuditEntry.subject == delivery_id, AuditEntry.event.in_(["delivery.failed", "delivery.dead_lettered"]))
            .order_by(AuditEntry.id)
        ).all()
        attempts = session.scalar(select(Delivery.attempts).where(Delivery.delivery_id == delivery_id))
    store.engine.dispose()
    assert [event for _, event, _ in failures] == ["delivery.failed"] * 3 + ["delivery.dead_lettered"]
    assert [details["attempt"] for _, _, details in failures] == [1, 2, 3, 4] and attempts == 4
    times = [at for at, _, _ in failures]
    gaps = [(later - earlier).total_seconds() for earlier, later in zip(times, times[1:], strict=False)]
    assert all(shorter < longer for shorter, longer in zip(gaps, gaps[1:], strict=False)), gaps  # each wait longer than the last
    assert all(gap >= delay / 1000 for gap, delay in zip(gaps, RETRY_DELAYS_MS, strict=True)), gaps  # each waited out its delay
    assert wait_for(lambda: dead_count(gateway) == 1)  # parked once, not once per retry queue


@pytest.fixture(scope="module")
def patient_gateway(rabbit: RabbitNode, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """Retries spaced wide enough that a recipient can come back before the last one."""
    extra = {"XIETONG_DELIVERY_ATTEMPTS": "6", "XIETONG_RETRY_DELAYS_MS": "[500, 1000, 2000, 4000, 8000]"}
    with gateway_in_vhost(rabbit, tmp_path_factory.mktemp("patient-gateway"), "xietong-patient-test", extra) as gateway:
        yield gateway


def test_a_webhook_that_was_down_receives_everything_once_when_it_is_back(patient_gateway: RunningGateway) -> None:
    """Every push fails while the procuratorate's endpoint is down; once it is back, the retries
    deliver each document exactly once, with no operator action."""
    gateway = patient_gateway
    port = free_port()
    wanted = set(push_judgments(gateway, 5, port, "down"))
    store = gateway.store()

    def all_failed_once() -> bool:
        with store.read() as session:
            failed = session.scalars(select(Delivery.delivery_id).where(Delivery.delivery_id.in_(wanted), Delivery.last_error.is_not(None)))
            return set(failed) == wanted

    assert wait_for(all_failed_once), (gateway.data_dir / "gateway.log").read_text()[-3000:]
    receiver = WebhookReceiver(port)
    try:

        def all_pushed() -> bool:
            with store.read() as session:
                pushed = session.scalars(select(Delivery.delivery_id).where(Delivery.delivery_id.in_(wanted), Delivery.pushed_at.is_not(None)))
                return set(pushed) == wanted

        assert wait_for(all_pushed, timeout=60), (gateway.data_dir / "gateway.log").read_text()[-3000:]
        time.sleep(1)  # room for a second (wrong) push to show up
        assert sorted(h["X-Xietong-Delivery-Id"] for h, _ in receiver.received) == sorted(wanted)
        assert dead_count(gateway) == 0
    finally:
        receiver.close()
        with store.write() as session:
            session.execute(update(Unit).where(Unit.code == PROCURATORATE).values(webhook_url=None))
        store.engine.dispose()


def test_a_poison_delivery_is_parked_and_the_others_still_flow(patient_gateway: RunningGateway) -> None:
    """A delivery no worker can read (not the gateway's wire format) is retried, parked with its
    error, listed for the operator, and does not hold up the documents behind it."""
    gateway = patient_gateway
    connection = pika.BlockingConnection(pika.URLParameters(gateway.broker_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(
            DELIVERIES, "procuratorate", b"\xff not a delivery", pika.BasicProperties(message_id="poison-1", delivery_mode=2)
        )
    finally:
        connection.close()
    with gateway.client(COURT) as court:
        accepted = court.post(
            "/v1/inbound/court",
            content=(COURT_SAMPLES / "handover.judgment_effective.xml").read_bytes() + b"\n<!-- behind the poison -->\n",
            headers={"Content-Type": "application/xml"},
        ).json()
        assert wait_delivered(court, accepted["message_id"])["status"] == "delivered"
    assert wait_for(lambda: dead_count(gateway) == 1, timeout=60), (gateway.data_dir / "gateway.log").read_text()[-3000:]
    listed = xietong(gateway, "dlq", "list")
    assert listed.returncode == 0, listed.stderr
    assert any(line.startswith("poison-1\tprocuratorate\t尝试6次") for line in listed.stdout.splitlines()), listed.stdout
