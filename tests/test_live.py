"""The live alert stream: a police station subscribed to `/v1/live` receives each alert for its
jurisdiction as a server-sent event, in its own XML, and resumes after a dropped connection
without losing one. The latency printed here is informative; `bench/run` measures it."""

from __future__ import annotations

import asyncio
import json
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from structlog.testing import capture_logs

from adapters.base import registry
from contracts.common import UnitType
from gateway import live
from gateway import store as store_module
from gateway.directory import load_directory
from gateway.services import Services
from gateway.settings import Settings
from gateway.store import Delivery, utcnow
from tests.conftest import DEMO_DIRECTORY, RunningGateway, run
from tests.flows import COURT, JUSTICE_BUREAU, SUNWU_STATION, fence_breach, sample, submit, xsd_valid

pytestmark = pytest.mark.broker

SHIMIAO_STATION = "11371621004370058A"  # 石庙派出所: another jurisdiction


class Subscriber:
    """Reads a unit's live stream in a thread, one parsed event at a time."""

    def __init__(self, gateway: RunningGateway, unit: str, last_event_id: str | None = None) -> None:
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.connected = threading.Event()
        headers = {"X-Api-Key": gateway.keys[unit]}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        self.client = httpx.Client(base_url=gateway.base_url, headers=headers, timeout=httpx.Timeout(5, read=None))
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        assert self.connected.wait(10), "the live stream did not open"

    def _read(self) -> None:
        try:
            with self.client.stream("GET", "/v1/live") as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                self.connected.set()
                event: dict[str, Any] = {}
                for line in response.iter_lines():
                    if line.startswith("id: "):
                        event["id"] = line[4:]
                    elif line.startswith("data: "):
                        event["data"] = json.loads(line[6:])
                    elif line == "" and "data" in event:
                        event["received"] = time.monotonic()
                        self.events.put(event)
                        event = {}
        except httpx.HTTPError:
            pass  # closed by the test

    def next_for(self, message_id: str, timeout: float = 15) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            if event["data"]["message_id"] == message_id:
                return event

    def close(self) -> None:
        self.client.close()


def alert(gateway: RunningGateway, detected_at: str) -> tuple[str, float]:
    """Submit the bureau's fence-breach alert (a new detection time makes it a new message)."""
    sent = time.monotonic()
    response = submit(gateway, JUSTICE_BUREAU, "canonical", fence_breach(detected_at))
    assert response.status_code == 202, response.text
    assert SUNWU_STATION in {d["recipient"] for d in response.json()["deliveries"]}
    return response.json()["message_id"], sent


def test_a_station_sees_an_alert_for_its_jurisdiction_in_its_own_xml(gateway: RunningGateway) -> None:
    station = Subscriber(gateway, SUNWU_STATION)
    elsewhere = Subscriber(gateway, SHIMIAO_STATION)
    try:
        message_id, sent = alert(gateway, "2025-05-12T21:46:52+08:00")
        event = station.next_for(message_id)
        print(f"alert reached the station's stream {1000 * (event['received'] - sent):.0f} ms after submission")
        data = event["data"]
        assert data["kind"] == "supervision.alert" and data["title"]
        assert data["media_type"] == "application/xml"
        document = data["document"].encode()
        assert xsd_valid(document)
        assert registry()["police"].parse(document).payload.alert_type.value == "fence_breach"
        with pytest.raises(queue.Empty):
            elsewhere.next_for(message_id, timeout=1)
    finally:
        station.close()
        elsewhere.close()


def test_a_reconnecting_station_resumes_after_its_last_event(gateway: RunningGateway) -> None:
    station = Subscriber(gateway, SUNWU_STATION)
    first, _ = alert(gateway, "2025-05-13T08:00:00+08:00")
    first_event = station.next_for(first)
    station.close()

    second, _ = alert(gateway, "2025-05-13T08:05:00+08:00")  # sent while the station was away
    resumed = Subscriber(gateway, SUNWU_STATION, last_event_id=first_event["id"])
    try:
        assert resumed.next_for(second)["data"]["message_id"] == second
        seen = [resumed.events.get_nowait()["data"]["message_id"] for _ in range(resumed.events.qsize())]
        assert first not in seen
    finally:
        resumed.close()


def test_a_forged_last_event_id_is_refused(gateway: RunningGateway) -> None:
    with gateway.client(SUNWU_STATION) as client:
        response = client.get("/v1/live", headers={"Last-Event-ID": "not-a-time"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "last_event_id_invalid"


def test_two_desks_of_one_station_both_see_the_alert(gateway: RunningGateway) -> None:
    desks = [Subscriber(gateway, SUNWU_STATION), Subscriber(gateway, SUNWU_STATION)]
    try:
        message_id, _ = alert(gateway, "2025-05-14T09:00:00+08:00")
        assert [desk.next_for(message_id)["data"]["message_id"] for desk in desks] == [message_id, message_id]
    finally:
        for desk in desks:
            desk.close()


def placed_alert(services: Services, detected_at: str) -> str:
    """A fence-breach alert accepted and placed in the station's inbox, as the worker does: its message id."""
    accepted = services.acceptance.accept(services.directory.units[JUSTICE_BUREAU], "canonical", fence_breach(detected_at), [])
    with services.store.write() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.message_id == accepted.message_id, Delivery.recipient_code == SUNWU_STATION)
            .values(delivered_at=utcnow(), rendered=b"<alert/>", media_type="application/xml")
        )
    return accepted.message_id


def message_of(event: str) -> str:
    return str(json.loads(event.split("data: ", 1)[1])["message_id"])


@pytest.fixture
def services(tmp_path: Path) -> Services:
    settings = Settings(data_dir=tmp_path)
    load_directory(Services.build(settings).store, DEMO_DIRECTORY)
    return Services.build(settings)


Read = tuple[tuple[str, ...], datetime]  # the units a read of the inbox was for, and since when


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[Read]:
    """Each read of the inbox the live stream makes, in order."""
    made: list[Read] = []
    poll = live._poll

    def counted(services: Services, units: tuple[str, ...], since: datetime, *args: Any) -> Any:
        made.append((units, since))
        return poll(services, units, since, *args)

    monkeypatch.setattr(live, "_poll", counted)
    return made


async def an_alert_after(services: Services, quiet_seconds: float, meanwhile: Callable[[], int] = lambda: 0) -> tuple[int, str, str]:
    """A station's stream opened, `quiet_seconds` with nothing new, `meanwhile` run (on a thread),
    then an alert placed in its inbox: what `meanwhile` said, the alert's message id, and what the
    stream sent."""
    stream = live._stream(live.Hub(services), SUNWU_STATION, datetime.now(UTC))
    try:
        assert (await anext(stream)).startswith(":")  # connected
        first = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(quiet_seconds)
        said = await asyncio.to_thread(meanwhile)
        message_id = await asyncio.to_thread(placed_alert, services, datetime.now(UTC).isoformat())
        return said, message_id, message_of(await asyncio.wait_for(first, 10))
    finally:
        await stream.aclose()


def test_a_failed_read_of_the_inbox_is_tried_again_and_the_stream_goes_on(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """One read of the inbox fails (a disk error, say): the stream logs it and reads again at the
    next poll, and the station still gets its alert on the same connection."""
    failures = [OperationalError("SELECT deliveries", {}, Exception("disk I/O error"))]
    poll = live._poll

    def failing_once(*args: Any) -> Any:
        if failures:
            raise failures.pop()
        return poll(*args)

    monkeypatch.setattr(live, "_poll", failing_once)
    with capture_logs() as logs:
        _, message_id, sent = run(lambda: an_alert_after(services, 0))
    assert not failures and [e["event"] for e in logs if e["log_level"] == "error"] == ["live.poll_failed"]
    assert sent == message_id


def test_should_the_hub_fail_its_streams_catch_up_and_a_new_hub_takes_over(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub fails while handing an alert on (a bug, say): it is logged, the desk still gets that
    alert from the store on the same connection, and the next alert comes through a new hub."""
    failures = [RuntimeError("a bug in the hub")]
    hand = live._Subscription.hand

    def failing_once(subscription: live._Subscription, found: live.Found) -> None:
        if failures:
            raise failures.pop()
        hand(subscription, found)

    monkeypatch.setattr(live._Subscription, "hand", failing_once)

    async def scenario() -> tuple[list[str], list[str]]:
        stream = live._stream(live.Hub(services), SUNWU_STATION, datetime.now(UTC))
        try:
            assert (await anext(stream)).startswith(":")  # connected
            placed, sent = [], []
            for n in range(2):
                placed.append(await asyncio.to_thread(placed_alert, services, f"2025-05-17T10:00:0{n}+08:00"))
                sent.append(message_of(await asyncio.wait_for(anext(stream), 10)))
            return placed, sent
        finally:
            await stream.aclose()

    with capture_logs() as logs:
        placed, sent = run(scenario)
    assert not failures and sent == placed
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["live.hub_failed"]


def test_a_hub_that_fails_at_every_alert_is_restarted_once_a_second_and_the_desk_still_gets_it(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub cannot hand an alert on, every time it finds it: the desk gets it all the same
    (its stream catches up from the store), and the hub is started again once a second, not as
    fast as the loop turns, each time reading the alert and failing again."""

    def failing(_subscription: live._Subscription, _found: live.Found) -> None:
        raise RuntimeError("a bug in the hub")

    monkeypatch.setattr(live._Subscription, "hand", failing)

    async def scenario() -> tuple[str, str]:
        stream = live._stream(live.Hub(services), SUNWU_STATION, datetime.now(UTC))
        try:
            assert (await anext(stream)).startswith(":")  # connected
            placed = await asyncio.to_thread(placed_alert, services, "2025-05-18T10:00:00+08:00")
            sent = message_of(await asyncio.wait_for(anext(stream), 10))
            await asyncio.sleep(1.5)
            return placed, sent
        finally:
            await stream.aclose()

    with capture_logs() as logs:
        placed, sent = run(scenario)
    assert sent == placed
    failures = [e for e in logs if e["event"] == "live.hub_failed"]
    assert 1 <= len(failures) <= 3, f"{len(failures)} failures of the hub logged in about 1.5 s"


def test_one_read_of_the_inbox_serves_every_open_stream(services: Services, reads: list[Read]) -> None:
    """Thirty desks open: after each stream's own catch-up, the hub reads once per poll for all of
    them, not once per stream; and each desk gets what was delivered to its unit."""
    stations = [code for code, unit in services.directory.units.items() if unit.unit_type == UnitType.police_station]
    assert SUNWU_STATION in stations and len(stations) >= 2

    async def scenario() -> tuple[str, dict[str, list[str]]]:
        hub = live.Hub(services)
        desks = [(stations[n % len(stations)], live._stream(hub, stations[n % len(stations)], datetime.now(UTC))) for n in range(30)]
        for _, stream in desks:
            assert (await anext(stream)).startswith(":")  # connected
        pending = {n: asyncio.ensure_future(anext(stream)) for n, (_, stream) in enumerate(desks)}
        deadline = time.monotonic() + 10  # the catch-ups share a few threads: on a busy machine they take a while
        while sum(len(units) == 1 for units, _ in reads) < 30 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # and the hub polls meanwhile
        own = sum(len(units) == 1 for units, _ in reads)
        polls = len(reads) - own
        message_id = await asyncio.to_thread(placed_alert, services, "2025-05-15T10:00:00+08:00")
        done, _ = await asyncio.wait(pending.values(), timeout=10)
        got: dict[str, list[str]] = {}
        for n, task in pending.items():
            if task in done:
                got.setdefault(desks[n][0], []).append(message_of(task.result()))
            else:
                task.cancel()
        await asyncio.gather(*pending.values(), return_exceptions=True)
        for _, stream in desks:
            await stream.aclose()
        assert own == 30, f"{own} reads for one unit: each stream's own catch-up, then none"
        assert 1 <= polls <= 20, f"{polls} polls of the hub"
        return message_id, got

    message_id, got = run(scenario)
    desks_of_sunwu = sum(1 for n in range(30) if stations[n % len(stations)] == SUNWU_STATION)
    assert got == {SUNWU_STATION: [message_id] * desks_of_sunwu}, "only the station the alert was delivered to, every one of its desks"


def test_a_desk_that_fell_behind_catches_up_from_the_store_and_misses_nothing(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """More alerts than the hub keeps for a stream arrive while its desk reads nothing: the
    stream reads the rest from the store, every alert once, in order."""
    monkeypatch.setattr(live, "MOST_WAITING", 2)

    async def scenario() -> tuple[list[str], list[str]]:
        hub = live.Hub(services)
        stream = live._stream(hub, SUNWU_STATION, datetime.now(UTC))
        assert (await anext(stream)).startswith(":")
        first = asyncio.ensure_future(anext(stream))
        placed = [await asyncio.to_thread(placed_alert, services, f"2025-05-16T10:00:0{n}+08:00") for n in range(6)]
        await asyncio.sleep(0.3)  # the hub has found them all meanwhile
        subscription = next(iter(hub.streams[SUNWU_STATION]))
        assert subscription.overflowed
        events = [message_of(await asyncio.wait_for(first, 10))]
        events += [message_of(await asyncio.wait_for(anext(stream), 10)) for _ in range(5)]
        await stream.aclose()
        return placed, events

    placed, events = run(scenario)
    assert events == placed


def test_an_idle_hub_does_not_read_the_inbox_until_something_is_committed(services: Services, reads: list[Read]) -> None:
    """A desk open all day while nothing happens: after its first look, the hub asks SQLite whether
    anything was committed instead of querying the inbox 50 times a second; a commit wakes it."""
    idle_reads, message_id, sent = run(lambda: an_alert_after(services, 0.5, lambda: len(reads)))  # 25 polls of nothing
    assert idle_reads <= 3, f"{idle_reads} reads of an idle inbox in 0.5 s"  # the stream's catch-up and the hub's first look
    assert sent == message_id


def test_the_hub_reads_the_inbox_when_sqlite_cannot_say_whether_anything_was_committed(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    class Unreadable:
        def execute(self, _sql: str) -> None:
            raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store_module.sqlite3, "connect", lambda *_args, **_kwargs: Unreadable())
    assert services.store.commits_elsewhere() is None
    _, message_id, sent = run(lambda: an_alert_after(services, 0.1))  # caught up: the alert can only come through the hub
    assert sent == message_id


def test_the_hubs_reads_look_back_from_its_last_read_not_from_when_it_started(services: Services, reads: list[Read]) -> None:
    """A desk open all day: each read of the inbox covers what came since the last one (and
    LOOK_BACK), not the whole day's deliveries to the station, however few of them were alerts."""

    def commits_with_no_alert() -> int:
        for n in range(2):
            time.sleep(0.3)
            services.acceptance.accept(services.directory.units[COURT], "court", sample("court", "handover.judgment_effective.xml") + f"<!-- {n} -->".encode(), [])
            time.sleep(0.1)  # the hub has read
        return 0

    run(lambda: an_alert_after(services, 0, commits_with_no_alert))
    hub_reads = [since for units, since in reads[1:]]  # after the stream's own catch-up
    assert len(hub_reads) >= 3
    assert hub_reads[-1] - hub_reads[0] >= timedelta(seconds=0.3), f"every read looked back to {hub_reads[0]}"
