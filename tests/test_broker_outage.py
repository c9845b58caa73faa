"""The broker being down delays delivery; it never refuses, loses or doubles a submission."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.broker_node import RabbitNode
from gateway.store import AuditEntry, Delivery, OutboxEntry, StoredMessage
from tests.conftest import RunningGateway, prepare_gateway
from tests.flows import COURT, JUSTICE_BUREAU, sample

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RabbitNode, RunningGateway]]:
    """A node and gateway of this module's own, since the test stops the node."""
    node = RabbitNode(tmp_path_factory.mktemp("outage-rabbit"), name="xietong-outage")
    node.start()
    gateway = prepare_gateway(tmp_path_factory.mktemp("outage-gateway"), node.url)
    gateway.start()
    yield node, gateway
    gateway.stop()
    node.stop()


class Stream:
    """Two agencies submitting without pause in a background thread: the court's XML judgment
    (→ bureau, procuratorate, public security) and the bureau's JSON enrollment (→ 司法所, police
    station, grid, procuratorate, court), each document made unique by trailing whitespace/comment."""

    def __init__(self, gateway: RunningGateway) -> None:
        self.gateway = gateway
        self.accepted: list[dict[str, Any]] = []  # every 202 body, in order
        self.refused: list[str] = []  # anything else
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        judgment = sample("court", "handover.judgment_effective.xml")
        enrollment = sample("canonical", "enrollment.registered.json")
        with self.gateway.client(COURT) as court, self.gateway.client(JUSTICE_BUREAU) as bureau:
            n = 0
            while not self._stop.is_set():
                n += 1
                for client, adapter, body, media_type in (
                    (court, "court", judgment + f"<!-- {n} -->".encode(), "application/xml"),
                    (bureau, "canonical", enrollment + b" " * n, "application/json"),
                ):
                    try:
                        response = client.post(f"/v1/inbound/{adapter}", content=body, headers={"Content-Type": media_type})
                    except Exception as exc:  # a refused connection is a refusal too
                        self.refused.append(repr(exc))
                        continue
                    if response.status_code == 202:
                        self.accepted.append(response.json())
                    else:
                        self.refused.append(f"{response.status_code} {response.text}")
                self._stop.wait(0.02)

    def __len__(self) -> int:
        return len(self.accepted)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.mark.timeout(120)
def test_a_node_stopped_while_submissions_continue_loses_and_doubles_nothing(own_broker: tuple[RabbitNode, RunningGateway]) -> None:
    """The node goes down mid-stream and comes back while agencies keep submitting: every
    submission is answered 202, and each recipient's inbox ends up with each of its messages once."""
    node, gateway = own_broker
    stream = Stream(gateway)
    stream.start()
    store = gateway.store()
    try:

        def delivered_so_far() -> int:
            with store.read() as session:
                return session.scalar(select(func.count()).select_from(Delivery).where(Delivery.delivered_at.is_not(None))) or 0

        # the stream flows end to end before the node goes away
        assert wait_for(lambda: len(stream) >= 10 and delivered_so_far() > 0, timeout=30), stream.refused
        node.stop()  # submissions go on while it stops
        stopped = len(stream)
        assert wait_for(lambda: len(stream) >= stopped + 20, timeout=30), stream.refused
        during = [a["message_id"] for a in stream.accepted[stopped:]]
        with store.read() as session:  # the node really was down for them: none reached it
            published = session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.message_id.in_(during), Delivery.published_at.is_not(None))
            )
        assert published == 0
        node.start()  # submissions go on while it starts
        started = len(stream)
        assert wait_for(lambda: len(stream) >= started + 10, timeout=30), stream.refused
    finally:
        stream.stop()

    assert stream.refused == []
    accepted = stream.accepted
    assert not any(a["duplicate"] for a in accepted)
    assert len({a["message_id"] for a in accepted}) == len(accepted)
    expected: dict[str, Counter[str]] = {}  # recipient -> message ids the gateway promised it
    for a in accepted:
        for d in a["deliveries"]:
            expected.setdefault(d["recipient"], Counter())[a["message_id"]] += 1
    assert len(expected) >= 7  # both kinds' recipients, in four formats

    def inbox(unit: str) -> Counter[str]:
        with gateway.client(unit) as client:
            items = client.get("/v1/inbox", params={"limit": 1000}).json()
        assert len(items) < 1000, "the inbox listing was cut short"
        return Counter(item["message_id"] for item in items)

    assert wait_for(lambda: all(inbox(unit) == want for unit, want in expected.items()), timeout=60), {
        unit: (sum(want.values()), sum(inbox(unit).values())) for unit, want in expected.items()
    }
    for unit, want in expected.items():
        got = inbox(unit)
        assert max(got.values()) == 1, f"{unit}: a message twice in its inbox"
        assert got == want, unit  # submitted count = delivered count, message by message

    def unmarked() -> int:
        with store.read() as session:
            return session.scalar(select(func.count()).select_from(OutboxEntry).where(OutboxEntry.published_at.is_(None))) or 0

    # the relay marks what the broker confirmed after the reconnect too, so a restart sends none again
    assert wait_for(lambda: unmarked() == 0, timeout=10), f"{unmarked()} outbox entries never marked published"
    with store.read() as session:
        messages = session.scalar(select(func.count()).select_from(StoredMessage))
        deliveries = set(session.scalars(select(Delivery.delivery_id)))
        placed = Counter(session.scalars(select(AuditEntry.subject).where(AuditEntry.event == "delivery.delivered")))
    store.engine.dispose()
    assert messages == len(accepted)
    assert len(deliveries) == sum(sum(want.values()) for want in expected.values())
    assert set(placed) == deliveries and set(placed.values()) == {1}  # each written into its inbox once
