"""Admission to acceptance: alerts before documents, within one API process.

Preparing a submission (parse, check, route) takes the API's one GIL for a millisecond or two, and
a few threads prepare as fast as many: they do not wait for the commit (`Store.hand_in`), and every
thread more that shares the GIL costs CPU. So the API prepares on a few threads. A submission that
says it is a live kind (an alert) takes the next free one before the documents waiting (but for
every fifth turn, so that alerts never stop documents), and one thread is never given to
documents: a court's backlog, whose legal deadlines run in days, does not hold an alert for
seconds. What a submission says only chooses its place in the queue, and only for a live kind its
unit may send through its own adapter (a unit cannot jump the queue with alerts acceptance would
refuse); acceptance checks it like any other.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import TypeVar

import anyio

from adapters.base import registry
from contracts.catalog import kinds
from gateway.acceptance import Acceptance, Accepted, Upload
from gateway.directory import UnitInfo
from gateway.live import live_kinds

SNIFFED_BYTES = 64 * 1024  # alerts are small; a larger document is not read on the event loop
ALERTS_BEFORE_A_DOCUMENT = 4
T = TypeVar("T")


class Admission:
    """The turns of one API process at its `threads` preparing threads: alerts are served before
    documents, and documents hold at most all threads but one. While both wait, every
    `ALERTS_BEFORE_A_DOCUMENT + 1`th turn goes to a document all the same: a flood of alerts (a
    police system gone wrong, say) slows the courts' documents, it never stops them.

    Earlier versions gave alerts a lane of 24 threads and narrowed the documents' 16 to two beside
    them. Under a stream of alerts every submission then shared the GIL with some 26 threads, and a
    document waited only for a thread of its own lane, not for the alerts queued before it."""

    def __init__(self, threads: int) -> None:
        self.threads_free = max(2, threads)  # one for documents, and one kept for alerts
        self.document_threads = self.threads_free - 1
        self.documents_under_way = 0
        self.alerts_in_a_row = 0  # turns given to alerts since a document last had one
        self.waiting: dict[bool, deque[anyio.Event]] = {True: deque(), False: deque()}  # alerts, documents
        # The threads preparing runs on, as many as the turns let in. Not anyio's default pool of 40,
        # which FastAPI's sync routes and the live stream's polls share: submissions filled it once,
        # and a police station's inbox or alert stream then waited behind the very load it was for.
        self.threads = anyio.CapacityLimiter(math.inf)

    async def run(self, alert: bool, work: Callable[[], T]) -> T:
        """`work` on a thread of its own, in the submission's turn."""
        async with self.turn(alert):
            return await anyio.to_thread.run_sync(work, limiter=self.threads)

    async def accept(self, alert: bool, acceptance: Acceptance, unit: UnitInfo, adapter: str, document: bytes, uploads: list[Upload]) -> Accepted:
        """Prepare the submission in its turn, then wait for its commit with no thread held, so
        that the few preparing threads go on with the next submissions meanwhile."""
        pending = await self.run(alert, partial(acceptance.prepare, unit, adapter, document, uploads))
        try:
            await asyncio.wrap_future(pending.written)
        except Exception:  # a duplicate committed meanwhile is read from the store; anything else is raised
            return await anyio.to_thread.run_sync(acceptance.settle, pending, limiter=self.threads)
        return acceptance.settle(pending)  # written: nothing left to wait for or read

    @asynccontextmanager
    async def turn(self, alert: bool) -> AsyncIterator[None]:
        """Hold one of the preparing threads: at once when one is free for this kind of submission
        and nobody it must let go first waits, else in order, alerts first."""
        if self._may_start(alert) and not self.waiting[True] and (alert or not self.waiting[False]):
            self._start(alert)
        else:
            handed = anyio.Event()
            self.waiting[alert].append(handed)
            try:
                await handed.wait()
            except BaseException:  # cancelled (the client left): a turn handed over meanwhile goes on to the next
                if handed.is_set():
                    self._end(alert)
                else:
                    self.waiting[alert].remove(handed)
                raise
        try:
            yield
        finally:
            self._end(alert)

    def _may_start(self, alert: bool) -> bool:
        return self.threads_free > 0 and (alert or self.documents_under_way < self.document_threads)

    def _start(self, alert: bool) -> None:
        self.threads_free -= 1
        self.documents_under_way += not alert
        self.alerts_in_a_row = self.alerts_in_a_row + 1 if alert else 0

    def _end(self, alert: bool) -> None:
        """A thread is free: hand it to the first alert waiting, else to the first document if
        documents may have one more; but to a document first after a run of alerts."""
        self.threads_free += 1
        self.documents_under_way -= not alert
        for waiting_alert in (False, True) if self.alerts_in_a_row >= ALERTS_BEFORE_A_DOCUMENT else (True, False):
            if self.waiting[waiting_alert] and self._may_start(waiting_alert):
                self._start(waiting_alert)
                self.waiting[waiting_alert].popleft().set()
                return


def says_live(unit: UnitInfo, adapter: str, document: bytes) -> bool:
    """Whether a submission says it is an alert its unit may send, read without checking it."""
    found = registry().get(adapter)
    if found is None or unit.adapter != adapter or not found.kinds_in & live_kinds() or len(document) > SNIFFED_BYTES:
        return False  # a court's judgment is not even looked at
    kind = found.kind_of(document)
    return kind in live_kinds() and unit.agency in kinds()[kind].senders
