"""Admission to acceptance: alerts before documents, within one API process.

Acceptance takes the API's one GIL for milliseconds per submission, so under a court's backlog
an alert waited seconds behind documents whose legal deadlines run in days. A submission that
says it is a live kind (an alert) takes a thread of its own lane at once, and no new document
starts while an alert waits or runs, for ALERTS_FIRST_SECONDS at most, so that a storm of
alerts slows documents without stopping them. What a submission says only chooses its lane,
and only for a live kind its unit may send through its own adapter (a unit cannot jump the
queue, or hold documents back, with alerts acceptance would refuse); acceptance checks it like
any other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from adapters.base import registry
from contracts.catalog import kinds
from gateway.directory import UnitInfo
from gateway.live import live_kinds

SNIFFED_BYTES = 64 * 1024  # alerts are small; a larger document is not read on the event loop
ALERTS_FIRST_SECONDS = 2.0  # the longest a new document waits for alerts under way


class Admission:
    """The lanes of one API process: documents under way finish, only new ones wait for alerts."""

    def __init__(self, document_threads: int, alert_threads: int) -> None:
        self.documents = anyio.CapacityLimiter(document_threads)
        self.alerts = anyio.CapacityLimiter(alert_threads)
        self.alerts_under_way = 0
        self.alerts_done = anyio.Event()  # made anew, on the running loop, whenever alerts begin

    @asynccontextmanager
    async def turn(self, alert: bool) -> AsyncIterator[None]:
        """Hold a place in the submission's lane while it is accepted."""
        if alert:
            if not self.alerts_under_way:
                self.alerts_done = anyio.Event()
            self.alerts_under_way += 1
            try:
                async with self.alerts:
                    yield
            finally:
                self.alerts_under_way -= 1
                if not self.alerts_under_way:
                    self.alerts_done.set()
            return
        async with self.documents:
            with anyio.move_on_after(ALERTS_FIRST_SECONDS):
                while self.alerts_under_way:  # waited with a place already taken, so a later alert still goes first
                    await self.alerts_done.wait()
            yield


def says_live(unit: UnitInfo, adapter: str, document: bytes) -> bool:
    """Whether a submission says it is an alert its unit may send, read without checking it."""
    found = registry().get(adapter)
    if found is None or unit.adapter != adapter or not found.kinds_in & live_kinds() or len(document) > SNIFFED_BYTES:
        return False  # a court's judgment is not even looked at
    kind = found.kind_of(document)
    return kind in live_kinds() and unit.agency in kinds()[kind].senders
