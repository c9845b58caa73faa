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

Documents wait for a thread in a bounded queue: beyond it, a document is answered 503 with
Retry-After at once, before anything is written, and its sender sends it again later (the same
bytes are the same message, so a resend is never a second one). Unbounded, an overload held every
waiting request in the API's memory (an alert flood on top of 300 documents/s took the API from
110 to 178 MB) and each document's answer came later and later; the court's system could not tell
a slow gateway from a stuck one. Alerts are never refused for load.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import Any, TypeVar

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.base import Adapter, registry
from contracts.catalog import kinds
from gateway.acceptance import Acceptance, Accepted, Upload
from gateway.directory import Directory, UnitInfo
from gateway.errors import ErrorBody, Refusal
from gateway.live import live_kinds

log = structlog.get_logger(__name__)

SNIFFED_BYTES = 64 * 1024  # alerts are small; a larger document is not read on the event loop
INBOUND = "/v1/inbound/"
ALERTS_BEFORE_A_DOCUMENT = 4
RETRY_AFTER_SECONDS = 1  # a waiting document's turn comes within about half a second at the API's pace
BUSY_LOG_SECONDS = 1.0  # under a flood, one `admission.busy` line a second, with the count refused
BUSY = {
    "model": ErrorBody,
    "description": "网关繁忙（gateway_busy）或数据存储暂不可用（store_unavailable），本报文未被接收：请按 Retry-After 所示秒数后重新报送（同一报文重报不会重复）",
    "headers": {"Retry-After": {"description": "几秒后可重新报送", "schema": {"type": "integer"}}},
}
T = TypeVar("T")


class Admission:
    """The preparing threads of one API process, `threads` of them, and whose turn is next: alerts
    are served before documents, and documents hold at most all threads but one. While both wait,
    every `ALERTS_BEFORE_A_DOCUMENT + 1`th turn goes to a document all the same: a flood of alerts
    (a police system gone wrong, say) slows the courts' documents, it never stops them.

    The threads take their next turn themselves, from the queues here, rather than being handed
    one by the event loop: a turn that waited for the loop, itself busy reading hundreds of
    requests, left its thread idle meanwhile, and alerts queued while the API's CPU sat unused.
    Earlier still, alerts had a lane of 24 threads and documents one of 16, narrowed to two beside
    alerts; every submission then shared the GIL with some 26 threads.

    These threads are the API's own, not anyio's default pool, which FastAPI's sync routes and the
    live stream's polls share: submissions filled that pool once, and a police station's inbox or
    alert stream then waited behind the very load it was for."""

    def __init__(self, threads: int, most_waiting_documents: int) -> None:
        self.size = threads  # at least two (the setting says so): one kept for alerts
        self.document_threads = threads - 1
        self.most_waiting_documents = most_waiting_documents
        self.documents_under_way = 0
        self.alerts_in_a_row = 0  # turns given to alerts since a document last had one
        self.waiting: dict[bool, deque[tuple[Callable[[], Any], Future[Any]]]] = {True: deque(), False: deque()}  # alerts, documents
        self.refused_unlogged = 0  # refused as busy since the last `admission.busy` line
        self.busy_logged_at = -BUSY_LOG_SECONDS
        self._changed = threading.Condition()
        self._threads: list[threading.Thread] = []

    async def run(self, alert: bool, work: Callable[[], T]) -> T:
        """`work` on one of the preparing threads, in the submission's turn."""
        return await asyncio.wrap_future(self.submit(alert, work))

    async def accept(self, alert: bool, acceptance: Acceptance, unit: UnitInfo, adapter: str, document: bytes, uploads: list[Upload]) -> Accepted:
        """Prepare the submission in its turn, then wait for its commit with no thread held, so
        that the few preparing threads go on with the next submissions meanwhile."""
        pending = await asyncio.wrap_future(self.submit(alert, partial(acceptance.prepare, unit, adapter, document, uploads), may_refuse=True))
        try:
            await asyncio.wrap_future(pending.written)
        except Exception:  # a duplicate committed meanwhile is read from the store; anything else is raised
            return await self.run(alert, partial(acceptance.settle, pending))
        return acceptance.settle(pending)  # written: nothing left to wait for or read

    def submit(self, alert: bool, work: Callable[[], T], *, may_refuse: bool = False) -> Future[T]:
        """Queue `work` for its turn, in the caller's context (its log fields). A document that
        `may_refuse` (one not yet prepared: nothing of it is written) is refused as busy instead
        when the documents' queue is full."""
        future: Future[T] = Future()
        with self._changed:
            if may_refuse and not alert:
                self.refuse_if_busy()
            if not self._threads:
                self._threads = [threading.Thread(target=self._prepare_forever, name=f"admission-{n}", daemon=True) for n in range(self.size)]
                for thread in self._threads:
                    thread.start()
            self.waiting[alert].append((partial(contextvars.copy_context().run, work), future))
            self._changed.notify()
        return future

    def refuse_if_busy(self) -> None:
        """Refuse a document (`Refusal` 503) while the documents' queue is full."""
        with self._changed:
            waiting = len(self.waiting[False])
            if waiting < self.most_waiting_documents:
                return
            self._log_refusal(waiting)
        raise Refusal(
            503,
            "gateway_busy",
            f"网关繁忙：已有{waiting}份报文排队待处理，本报文未被接收，请{RETRY_AFTER_SECONDS}秒后重新报送（同一报文重报不会重复）",
            retry_after=RETRY_AFTER_SECONDS,
        )

    def _log_refusal(self, waiting: int) -> None:
        """At most one line a second: under a flood, one per refusal was hundreds of lines a second."""
        self.refused_unlogged += 1
        now = time.monotonic()
        if now - self.busy_logged_at >= BUSY_LOG_SECONDS:
            log.warning("admission.busy", waiting=waiting, refused=self.refused_unlogged)
            self.refused_unlogged, self.busy_logged_at = 0, now

    def _next(self) -> bool | None:
        """Whose turn the next free thread is: an alert's, a document's, or nobody's yet."""
        for alert in (False, True) if self.alerts_in_a_row >= ALERTS_BEFORE_A_DOCUMENT else (True, False):
            if self.waiting[alert] and (alert or self.documents_under_way < self.document_threads):
                return alert
        return None

    def _prepare_forever(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._next() is not None)
                alert = bool(self._next())
                work, future = self.waiting[alert].popleft()
                self.documents_under_way += not alert
                self.alerts_in_a_row = self.alerts_in_a_row + 1 if alert else 0
            try:
                if future.set_running_or_notify_cancel():  # else its submitter stopped waiting
                    try:
                        future.set_result(work())
                    except BaseException as exc:  # the submitter's to raise, not this thread's
                        future.set_exception(exc)
            finally:
                with self._changed:
                    self.documents_under_way -= not alert
                    self._changed.notify()  # a document held back by the documents' share may go now


def may_be_alert(unit: UnitInfo, adapter: Adapter, size: int) -> bool:
    """Whether a submission of `size` bytes from `unit` through `adapter` can be an alert at all,
    known before a byte of it is read: its unit's own adapter, one that carries alerts, and small."""
    return unit.adapter == adapter.name and bool(adapter.kinds_in & live_kinds()) and size <= SNIFFED_BYTES


def says_live(unit: UnitInfo, adapter: str, document: bytes) -> bool:
    """Whether a submission says it is an alert its unit may send, read without checking it."""
    found = registry().get(adapter)
    if found is None or not may_be_alert(unit, found, len(document)):
        return False  # a court's judgment is not even looked at
    kind = found.kind_of(document)
    return kind in live_kinds() and unit.agency in kinds()[kind].senders


class Shedding:
    """Refuses as busy, before reading or checking anything else of it, a submission from a known
    unit that cannot be an alert (its adapter carries none, or it is larger than an alert may be)
    while the documents' queue is full. A refusal through the whole app (middleware, dependencies,
    the body, the exception handler) cost the API ~0.5 ms of its one GIL, here ~0.3: under an alert
    flood on top of 300 documents/s, hundreds of refusals a second took time the alerts and the
    documents let in needed. An unknown key goes on to its 401, and a large upload is refused
    before its body is sent (uvicorn answers `Expect: 100-continue` only once the body is read)."""

    def __init__(self, app: ASGIApp, admission: Admission, directory: Directory) -> None:
        self.app, self.admission, self.directory = app, admission, directory

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].startswith(INBOUND) and self._cannot_be_alert(scope):
            try:
                self.admission.refuse_if_busy()
            except Refusal as busy:
                await busy.response()(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _cannot_be_alert(self, scope: Scope) -> bool:
        """A known unit's submission that `may_be_alert` rules out; an unknown key or adapter goes
        on to its 401 or 404."""
        headers = dict(scope["headers"])
        api_key = headers.get(b"x-api-key")
        unit = self.directory.known(api_key.decode("latin-1")) if api_key else None
        found = registry().get(scope["path"].removeprefix(INBOUND))
        if unit is None or found is None:
            return False
        length = headers.get(b"content-length", b"")
        return not may_be_alert(unit, found, int(length) if length.isdigit() else 0)
