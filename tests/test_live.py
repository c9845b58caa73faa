"""The live alert stream: a police station subscribed to `/v1/live` receives each alert for its
jurisdiction as a server-sent event, in its own XML, and resumes after a dropped connection
without losing one. The latency printed here is informative; `bench/run` measures it."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from structlog.testing import capture_logs

from adapters.base import registry
from gateway import live
from gateway.directory import load_directory
from gateway.services import Services
from gateway.settings import Settings
from gateway.store import Delivery, utcnow
from tests.conftest import DEMO_DIRECTORY, RunningGateway, run
from tests.flows import JUSTICE_BUREAU, SUNWU_STATION, sample, submit, xsd_valid

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
    body = json.loads(sample("canonical", "supervision.alert.json"))
    body["payload"]["detected_at"] = detected_at
    sent = time.monotonic()
    response = submit(gateway, JUSTICE_BUREAU, "canonical", json.dumps(body, ensure_ascii=False).encode())
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


def test_a_failed_read_of_the_inbox_is_tried_again_and_the_stream_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One read of the inbox fails (a disk error, say): the stream logs it and reads again at the
    next poll, and the station still gets its alert on the same connection."""
    settings = Settings(data_dir=tmp_path)
    load_directory(Services.build(settings).store, DEMO_DIRECTORY)
    services = Services.build(settings)
    since = datetime.now(UTC)
    alert = services.acceptance.accept(services.directory.units[JUSTICE_BUREAU], "canonical", sample("canonical", "supervision.alert.json"), [])
    with services.store.write() as session:  # placed in the station's inbox, as the worker does
        session.execute(
            update(Delivery)
            .where(Delivery.message_id == alert.message_id, Delivery.recipient_code == SUNWU_STATION)
            .values(delivered_at=utcnow(), rendered=b"<alert/>", media_type="application/xml")
        )
    failures = [OperationalError("SELECT deliveries", {}, Exception("disk I/O error"))]
    poll = live._poll

    def failing_once(*args: Any) -> Any:
        if failures:
            raise failures.pop()
        return poll(*args)

    monkeypatch.setattr(live, "_poll", failing_once)

    async def first_alert() -> str:
        stream = live._stream(services, SUNWU_STATION, since)
        assert (await anext(stream)).startswith(":")  # connected
        return await anext(stream)

    with capture_logs() as logs:
        event = run(lambda: asyncio.wait_for(first_alert(), 10))
    assert not failures and [e["event"] for e in logs if e["log_level"] == "error"] == ["live.poll_failed"]
    assert json.loads(event.split("data: ", 1)[1])["message_id"] == alert.message_id
