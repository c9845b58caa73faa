"""Admission to acceptance: alerts before documents, within one API process.

Acceptance takes the API's one GIL for milliseconds per submission, so under a court's backlog
an alert waited seconds behind documents whose legal deadlines run in days. A submission that
says it is a live kind (an alert) takes a thread of its own lane at once, and while alerts are
under way the documents' lane narrows to a few threads: documents keep moving, slower, and the
alerts share the GIL with those few rather than with every document thread. What a submission
says only chooses its lane, and only for a live kind its unit may send through its own adapter (a
unit cannot jump the queue, or hold documents back, with alerts acceptance would refuse);
acceptance checks it like any other.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import anyio

from adapters.base import registry
from contracts.catalog import kinds
from gateway.directory import UnitInfo
from gateway.live import live_kinds

SNIFFED_BYTES = 64 * 1024  # alerts are small; a larger document is not read on the event loop
T = TypeVar("T")


class Admission:
    """The lanes of one API process. The documents' lane is `document_threads` wide, and
    `beside_alerts` wide while an alert waits or runs: documents under way finish, new ones start
    only within the narrow lane, in their order of arrival, and it widens when the last alert is done.

    An earlier version stopped new documents altogether, for 2 s at most. Under a steady stream of
    alerts every document then waited its 2 s, and then they all ran beside the alerts anyway."""

    def __init__(self, document_threads: int, alert_threads: int, beside_alerts: int) -> None:
        # at least one: documents slow down beside alerts, they never stop
        self.document_threads, self.beside_alerts = document_threads, max(1, min(beside_alerts, document_threads))
        self.documents = anyio.CapacityLimiter(document_threads)
        self.alerts = anyio.CapacityLimiter(alert_threads)
        # The threads acceptance runs on, as many as the lanes let in. Not anyio's default pool of 40,
        # which FastAPI's sync routes and the live stream's polls share: 16 + 24 acceptances filled it,
        # and a police station's inbox or alert stream then waited behind the very load it was for.
        self.threads = anyio.CapacityLimiter(math.inf)
        self.alerts_under_way = 0

    async def run(self, alert: bool, work: Callable[[], T]) -> T:
        """`work` on a thread of its own, once the submission's lane lets it in."""
        async with self.turn(alert):
            return await anyio.to_thread.run_sync(work, limiter=self.threads)

    @asynccontextmanager
    async def turn(self, alert: bool) -> AsyncIterator[None]:
        """Hold a place in the submission's lane while it is accepted."""
        if not alert:
            async with self.documents:
                yield
            return
        if not self.alerts_under_way:
            self.documents.total_tokens = self.beside_alerts  # those holding a place keep it
        self.alerts_under_way += 1
        try:
            async with self.alerts:
                yield
        finally:
            self.alerts_under_way -= 1
            if not self.alerts_under_way:
                self.documents.total_tokens = self.document_threads  # the waiting documents start


def says_live(unit: UnitInfo, adapter: str, document: bytes) -> bool:
    """Whether a submission says it is an alert its unit may send, read without checking it."""
    found = registry().get(adapter)
    if found is None or unit.adapter != adapter or not found.kinds_in & live_kinds() or len(document) > SNIFFED_BYTES:
        return False  # a court's judgment is not even looked at
    kind = found.kind_of(document)
    return kind in live_kinds() and unit.agency in kinds()[kind].senders
