"""Admission to acceptance: an alert does not queue behind documents in the API. Whether a
submission is an alert is read from what it says (its kind), cheaply and before it is parsed;
only the lane depends on that, acceptance checks the document as usual."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import anyio
import pytest

from contracts.common import UnitType
from gateway.admission import SNIFFED_BYTES, Admission, says_live
from gateway.directory import UnitInfo
from tests.flows import sample

T = TypeVar("T")


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    """On a thread of its own: the browser tests' Playwright leaves an event loop on the main thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, scenario).result()


def test_an_alert_takes_the_thread_kept_for_alerts_and_goes_ahead_of_waiting_documents() -> None:
    started: list[str] = []

    async def scenario() -> None:
        admission = Admission(threads=3)
        names = ("document 1", "document 2", "document 3", "document 4", "alert 1", "alert 2")
        release = {name: anyio.Event() for name in names}

        async def submit(name: str) -> None:
            async with admission.turn(alert=name.startswith("alert")):
                started.append(name)
                await release[name].wait()

        async with anyio.create_task_group() as group:
            for name in ("document 1", "document 2", "document 3", "document 4"):
                group.start_soon(submit, name)
                await anyio.wait_all_tasks_blocked()
            assert started == ["document 1", "document 2"], "documents hold all threads but one"
            group.start_soon(submit, "alert 1")
            await anyio.wait_all_tasks_blocked()
            assert started == ["document 1", "document 2", "alert 1"], "the thread kept for alerts"
            group.start_soon(submit, "alert 2")
            await anyio.wait_all_tasks_blocked()
            release["document 1"].set()
            await anyio.wait_all_tasks_blocked()
            assert started[3:] == ["alert 2"], "the alert goes ahead of the documents that waited longer"
            release["alert 1"].set()
            await anyio.wait_all_tasks_blocked()
            assert started[4:] == ["document 3"], "then the documents, in their order of arrival"
            release["alert 2"].set()
            await anyio.wait_all_tasks_blocked()
            assert started[5:] == [], "a thread stays kept for alerts"
            release["document 2"].set()
            await anyio.wait_all_tasks_blocked()
            assert started[5:] == ["document 4"]
            release["document 3"].set()
            release["document 4"].set()

    run(scenario)


def test_a_submission_that_gives_up_waiting_passes_its_turn_on() -> None:
    """A client that leaves while its submission waits (or just as its turn comes) takes no thread with it."""

    async def scenario() -> list[str]:
        admission = Admission(threads=2)
        started: list[str] = []
        first_ends = anyio.Event()

        async def submit(name: str, alert: bool, ends: anyio.Event) -> None:
            async with admission.turn(alert=alert):
                started.append(name)
                await ends.wait()

        async with anyio.create_task_group() as group:
            group.start_soon(submit, "document 1", False, first_ends)
            await anyio.wait_all_tasks_blocked()
            async with anyio.create_task_group() as leaving:
                leaving.start_soon(submit, "document 2", False, anyio.Event())
                await anyio.wait_all_tasks_blocked()
                leaving.cancel_scope.cancel()
            first_ends.set()
            await anyio.wait_all_tasks_blocked()
            ends = anyio.Event()
            ends.set()
            with anyio.fail_after(5):
                for name in ("document 3", "document 4", "alert"):
                    await submit(name, name == "alert", ends)
        return started

    assert run(scenario) == ["document 1", "document 3", "document 4", "alert"]


def test_a_flood_of_alerts_slows_documents_but_does_not_stop_them() -> None:
    """While alerts and documents both wait, a document takes every fifth turn."""

    async def scenario() -> list[str]:
        admission = Admission(threads=2)
        started: list[str] = []
        release: dict[str, anyio.Event] = {}

        async def submit(name: str) -> None:
            release[name] = anyio.Event()
            async with admission.turn(alert=name.startswith("A")):
                started.append(name)
                await release[name].wait()

        async with anyio.create_task_group() as group:
            for name in ["A0", "A1", *(f"A{n}" for n in range(2, 12)), "D1", "D2"]:  # the alerts take both threads
                group.start_soon(submit, name)
                await anyio.wait_all_tasks_blocked()
            for _ in range(12):  # whoever started first ends first, one at a time
                release[started[len(started) - 2]].set()
                await anyio.wait_all_tasks_blocked()
            for event in release.values():
                event.set()
        return started

    assert run(scenario)[:12] == ["A0", "A1", "A2", "A3", "D1", "A4", "A5", "A6", "A7", "D2", "A8", "A9"]


def test_documents_pass_freely_when_no_alert_is_under_way() -> None:
    async def scenario() -> int:
        admission = Admission(threads=4)
        inside = 0
        most = 0

        async def submit() -> None:
            nonlocal inside, most
            async with admission.turn(alert=False):
                inside += 1
                most = max(most, inside)
                await anyio.sleep(0.01)
                inside -= 1

        async with anyio.create_task_group() as group:
            for _ in range(8):
                group.start_soon(submit)
        return most

    assert run(scenario) == 3  # all threads but the one kept for alerts


def unit(unit_type: UnitType, adapter: str) -> UnitInfo:
    return UnitInfo("11371621004370000X", unit_type.value, unit_type, "371621", adapter, ("371621",), None)


BUREAU, STATION, COURT = unit(UnitType.justice_bureau, "canonical"), unit(UnitType.police_station, "police"), unit(UnitType.court, "court")


@pytest.mark.parametrize(
    ("sender", "adapter", "document", "live"),
    [
        (BUREAU, "canonical", sample("canonical", "supervision.alert.json"), True),  # the bureau's fence-breach alert
        (STATION, "police", sample("police", "keyperson.event.xml"), True),  # a police station's key-person event
        (STATION, "police", sample("police", "handover.judgment_effective.xml"), False),
        (COURT, "court", sample("court", "handover.judgment_effective.xml"), False),
        (BUREAU, "canonical", sample("canonical", "transfer.request.json"), False),
        (BUREAU, "canonical", b'{"kind": ["supervision.alert"]}', False),
        (BUREAU, "canonical", b"\xff not json", False),
        (BUREAU, "canonical", b'{"kind": "supervision.alert", "payload": ' + b"[" * 100_000, False),  # deeper than Python's stack
        (STATION, "police", b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>', False),
        (STATION, "police", b"", False),
        (BUREAU, "nosuch", sample("canonical", "supervision.alert.json"), False),
        # alerts acceptance would refuse take no place ahead of documents:
        (STATION, "police", sample("police", "supervision.alert.xml"), False),  # only the justice bureau raises these
        (COURT, "canonical", sample("canonical", "supervision.alert.json"), False),  # not the court's adapter, nor its kind
    ],
)
def test_what_a_submission_says_it_is_chooses_its_lane(sender: UnitInfo, adapter: str, document: bytes, live: bool) -> None:
    assert says_live(sender, adapter, document) is live


def test_alerts_under_way_do_not_stop_documents() -> None:
    """However long an alert keeps its thread, documents are accepted on the others."""

    async def scenario() -> int:
        lanes = Admission(threads=3)
        alert_ends = anyio.Event()
        done = 0

        async def alert() -> None:
            async with lanes.turn(alert=True):
                await alert_ends.wait()

        async def document() -> None:
            nonlocal done
            async with lanes.turn(alert=False):
                await anyio.sleep(0.001)
            done += 1

        async with anyio.create_task_group() as group:
            group.start_soon(alert)
            await anyio.wait_all_tasks_blocked()
            with anyio.fail_after(5):
                async with anyio.create_task_group() as documents:
                    for _ in range(8):
                        documents.start_soon(document)
            alert_ends.set()
        return done

    assert run(scenario) == 8


def test_acceptance_does_not_wait_for_the_threads_other_routes_share() -> None:
    """Every thread of anyio's default pool taken (by the inbox, the console, the live stream's
    polls): a submission the lanes let in is still accepted."""

    async def scenario() -> str:
        lanes = Admission(threads=2)
        shared = anyio.to_thread.current_default_thread_limiter()
        shared.total_tokens = 1
        async with shared:
            with anyio.fail_after(5):
                return await lanes.run(False, lambda: "accepted")

    assert run(scenario) == "accepted"


def test_a_large_submission_is_not_read_on_the_event_loop() -> None:
    alert = sample("canonical", "supervision.alert.json")
    padded = alert.rstrip()[:-1] + b', "padding": "' + b" " * SNIFFED_BYTES + b'"}'
    assert says_live(BUREAU, "canonical", padded) is False
