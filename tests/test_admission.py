"""Admission to acceptance: an alert does not queue behind documents in the API. Whether a
submission is an alert is read from what it says (its kind), cheaply and before it is parsed;
only the lane depends on that, acceptance checks the document as usual."""

from __future__ import annotations

import threading
import time

import anyio
import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs

from contracts.common import UnitType
from gateway.admission import BUSY_LOG_SECONDS, RETRY_AFTER_SECONDS, SNIFFED_BYTES, Admission, says_live
from gateway.directory import UnitInfo
from gateway.errors import Refusal
from gateway.settings import Settings
from tests.conftest import run
from tests.flows import sample


class Submissions:
    """Work for the admission's threads that says when it started and ends when told."""

    def __init__(self, admission: Admission) -> None:
        self.admission, self.started, self.release, self.futures = admission, [], {}, {}
        self.lock = threading.Lock()

    def submit(self, name: str, may_refuse: bool = False) -> None:
        """An alert when its name starts with A, else a document."""
        self.release[name] = threading.Event()

        def work() -> str:
            with self.lock:
                self.started.append(name)
            assert self.release[name].wait(10)
            return name

        self.futures[name] = self.admission.submit(name.startswith("A"), work, may_refuse=may_refuse)

    def end(self, name: str) -> None:
        self.release[name].set()
        assert self.futures[name].result(5) == name

    def starts(self, count: int) -> list[str]:
        """What started, once `count` have (or after 5 s); then a moment more, to see nothing else starts."""
        deadline = time.monotonic() + 5
        while len(self.started) < count and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(0.05)
        with self.lock:
            return list(self.started)

    def end_all(self) -> None:
        for event in self.release.values():
            event.set()


def test_an_alert_takes_the_thread_kept_for_alerts_and_goes_ahead_of_waiting_documents() -> None:
    work = Submissions(Admission(threads=3, most_waiting_documents=100))
    for name in ("D1", "D2", "D3", "D4"):
        work.submit(name)
    assert work.starts(2) == ["D1", "D2"], "documents hold all threads but one"
    work.submit("A1")
    assert work.starts(3) == ["D1", "D2", "A1"], "the thread kept for alerts"
    work.submit("A2")
    work.end("D1")
    assert work.starts(4)[3:] == ["A2"], "the alert goes ahead of the documents that waited longer"
    work.end("A1")
    assert work.starts(5)[4:] == ["D3"], "then the documents, in their order of arrival"
    work.end("A2")
    assert work.starts(6)[5:] == [], "a thread stays kept for alerts"
    work.end("D2")
    assert work.starts(6)[5:] == ["D4"]
    work.end_all()


def test_a_flood_of_alerts_slows_documents_but_does_not_stop_them() -> None:
    """While alerts and documents both wait, a document takes every fifth turn."""
    work = Submissions(Admission(threads=2, most_waiting_documents=100))
    for name in ("A0", "A1"):  # the alerts take both threads
        work.submit(name)
    assert work.starts(2) == ["A0", "A1"]
    for name in [*(f"A{n}" for n in range(2, 12)), "D1", "D2"]:
        work.submit(name)
    for count in range(3, 13):  # whoever started first ends first, one at a time
        work.end(work.started[count - 3])
        work.starts(count)
    assert work.started[:12] == ["A0", "A1", "A2", "A3", "D1", "A4", "A5", "A6", "A7", "D2", "A8", "A9"]
    work.end_all()


def test_documents_use_all_threads_but_one_when_no_alert_is_under_way() -> None:
    work = Submissions(Admission(threads=4, most_waiting_documents=100))
    for n in range(8):
        work.submit(f"D{n}")
    assert work.starts(3) == ["D0", "D1", "D2"]
    for n in range(8):
        work.end(f"D{n}")
    assert work.started == [f"D{n}" for n in range(8)]


def test_a_document_beyond_the_documents_queue_is_refused_as_busy_and_an_alert_never_is() -> None:
    work = Submissions(Admission(threads=2, most_waiting_documents=2))
    work.submit("D1", may_refuse=True)
    assert work.starts(1) == ["D1"]
    work.submit("D2", may_refuse=True)
    work.submit("D3", may_refuse=True)
    with pytest.raises(Refusal) as busy:
        work.submit("D4", may_refuse=True)
    assert (busy.value.status, busy.value.code, busy.value.retry_after) == (503, "gateway_busy", RETRY_AFTER_SECONDS)
    assert "2份报文排队" in busy.value.message and "重新报送" in busy.value.message
    work.submit("D5")  # the second step of a submission already prepared is never refused
    for n in range(1, 4):
        work.submit(f"A{n}", may_refuse=True)  # alerts wait beyond any number of documents
    work.end("D1")
    assert work.starts(3)[1:] == ["A1", "A2"]
    work.end_all()
    assert [work.futures[name].result(5) for name in ("D2", "D3", "D5", "A3")] == ["D2", "D3", "D5", "A3"]
    work.submit("D6", may_refuse=True)  # room again once the queue has moved
    work.end("D6")


def test_a_flood_of_busy_refusals_is_logged_once_a_second_with_its_count() -> None:
    admission = Admission(threads=2, most_waiting_documents=0)  # every document finds the queue full

    def refuse(count: int) -> list[dict[str, object]]:
        with capture_logs() as logs:
            for _ in range(count):
                with pytest.raises(Refusal):
                    admission.submit(False, lambda: None, may_refuse=True)
        return [{k: e[k] for k in ("event", "refused")} for e in logs]

    assert refuse(5) == [{"event": "admission.busy", "refused": 1}]  # the first at once, then quiet
    admission.busy_logged_at -= BUSY_LOG_SECONDS  # a second later
    assert refuse(1) == [{"event": "admission.busy", "refused": 5}]  # the four unlogged, and this one


def test_a_refusal_reaches_its_submitter_and_the_thread_goes_on() -> None:
    admission = Admission(threads=2, most_waiting_documents=100)

    def refused() -> None:
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        admission.submit(False, refused).result(5)
    assert admission.submit(False, lambda: "accepted").result(5) == "accepted"


def test_a_submission_whose_client_left_before_its_turn_is_skipped() -> None:
    work = Submissions(Admission(threads=2, most_waiting_documents=100))
    work.submit("D1")
    assert work.starts(1) == ["D1"]
    work.submit("D2")
    assert work.futures["D2"].cancel()
    work.submit("D3")
    work.end("D1")
    assert work.starts(2) == ["D1", "D3"]
    work.end_all()


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


def test_acceptance_does_not_wait_for_the_threads_other_routes_share() -> None:
    """Every thread of anyio's default pool taken (by the inbox, the console, the live stream's
    polls): a submission is still prepared, on the admission's own threads."""

    async def scenario() -> str:
        lanes = Admission(threads=2, most_waiting_documents=100)
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


def test_fewer_than_two_preparing_threads_is_refused_at_start() -> None:
    """One thread is kept for alerts, so one alone would leave documents none."""
    with pytest.raises(ValidationError, match="accept_threads"):
        Settings(accept_threads=1)
