"""`bench/run --timers`: where a submission's time goes inside the gateway's processes.

Python imports this module at start-up when its folder is on PYTHONPATH, which `bench/run
--timers` sets for the gateway alone. It wraps, with timers:
- in the `api` role: the admission, preparing, the group commit and the write lock, each
  submission's timings filed under "alert" or "document" (by its turn, or the kind it was
  accepted as), each shared transaction's under "batch"; the live stream's poll; and how late
  the event loop wakes a task that sleeps 10 ms;
- in the `relay` role: the wait from an outbox entry's commit until it is published, and from
  its publish to the broker's confirm, per alert or document; the outbox read; the write lock;
- in the `worker` role: from a delivery's arrival until its batch is committed, per alert or
  document; rendering; the size of what arrived together; the write lock.
Each role writes every timer's percentiles as JSON to <role>.json in $XIETONG_BENCH_TIMERS as it
stops: the API once uvicorn has shut down (not at exit: uvicorn ends by raising the SIGTERM it
caught again), the relay and the worker at exit. Wall time, not CPU: the waits are what it is for
(but for the CPU the write lock's holder used while it held it).
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

COUNTED, ARRIVED, READ = "submissions per batch", "deliveries that arrived together", "entries per read"
COUNTS = (COUNTED, ARRIVED, READ)  # every other figure is seconds, written as ms

filed: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
filing = threading.Lock()


def note(kind: str, timer: str, value: float) -> None:
    with filing:
        filed[kind][timer].append(value)


def write(out: str) -> None:
    def percentiles(timer: str, values: list[float]) -> dict[str, Any]:
        ordered, scale = sorted(values), 1 if timer in COUNTS else 1000
        return {"n": len(ordered), "unit": "" if scale == 1 else "ms", **{f"p{q}": round(scale * ordered[min(len(ordered) - 1, len(ordered) * q // 100)], 1) for q in (50, 90, 99)}}

    with filing:
        figures = {kind: {timer: percentiles(timer, values) for timer, values in timers.items()} for kind, timers in filed.items()}
    with open(out, "w", encoding="utf-8") as file:
        json.dump(figures, file, ensure_ascii=False, indent=2)


def _time_the_write_lock() -> None:
    from gateway.store import WriteLock

    held = WriteLock.held

    @contextmanager
    def timed_held(self: WriteLock, urgent: bool = False) -> Iterator[None]:
        began = time.perf_counter()
        with held(self, urgent):
            note("alert" if urgent else "batch", "write lock: waiting", time.perf_counter() - began)
            taken, cpu = time.perf_counter(), time.thread_time()
            yield
            note("batch", "write lock: holding", time.perf_counter() - taken)
            # the holder's own CPU meanwhile: the rest of the holding it waited, for the GIL or the disk
            note("batch", "write lock: holder's CPU", time.thread_time() - cpu)

    WriteLock.held = timed_held  # type: ignore[method-assign]


def _install_api(out: str) -> None:
    from uvicorn.server import Server

    from gateway import live
    from gateway.acceptance import Acceptance, Pending
    from gateway.admission import Admission
    from gateway.live import live_kinds
    from gateway.store import Store

    def kind_of(message_kind: str) -> str:
        return "alert" if message_kind in live_kinds() else "document"

    accept, prepare, submit, hand_in = Admission.accept, Acceptance.prepare, Admission.submit, Store.hand_in

    async def timed_accept(self: Admission, alert: bool, *args: Any) -> Any:
        began = time.perf_counter()
        accepted = await accept(self, alert, *args)
        note(kind_of(accepted.kind), "acceptance: turn, preparing, commit", time.perf_counter() - began)
        return accepted

    def timed_submit(self: Admission, alert: bool, work: Callable[[], Any], **options: Any) -> Any:
        began = time.perf_counter()

        def noted() -> Any:
            note("alert" if alert else "document", "waiting for a turn", time.perf_counter() - began)
            return work()

        return submit(self, alert, noted, **options)

    def timed_prepare(self: Acceptance, *args: Any) -> Pending:
        began = time.perf_counter()
        pending = prepare(self, *args)
        note(kind_of(pending.accepted.kind), "preparing", time.perf_counter() - began)
        return pending

    handed_in: dict[int, tuple[str, float]] = {}  # id of the item -> its kind, when handed in

    def timed_hand_in(self: Store, item: Any, writer: Any, urgent: bool = False) -> Future[None]:
        began = time.perf_counter()
        kind = kind_of(item.message["kind"]) if hasattr(item, "message") else "other"
        handed_in[id(item)] = kind, began
        written = hand_in(self, item, writer, urgent)
        written.add_done_callback(lambda _: note(kind, "commit: handed in to written", time.perf_counter() - began))
        return written

    commit_together, poll = Store._commit_together, live._poll

    def counted_commit_together(self: Store, batch: list[Any], urgent: bool) -> None:
        began = time.perf_counter()
        note("batch", COUNTED, len(batch))
        kinds = set()
        for member in batch:
            kind, at = handed_in.pop(id(member.item), ("other", began))
            note(kind, "commit: handed in to its transaction's start", began - at)
            kinds.add(kind)
        commit_together(self, batch, urgent)
        for kind in kinds:
            note(kind, "commit: its transaction", time.perf_counter() - began)

    def timed_poll(*args: Any) -> Any:
        began = time.perf_counter()
        fresh = poll(*args)
        note("live stream", "reading the inbox", time.perf_counter() - began)
        return fresh

    Admission.accept = timed_accept  # type: ignore[method-assign]
    Admission.submit = timed_submit  # type: ignore[method-assign]
    Acceptance.prepare = timed_prepare  # type: ignore[method-assign]
    Store.hand_in = timed_hand_in  # type: ignore[method-assign]
    Store._commit_together = counted_commit_together  # type: ignore[method-assign]
    live._poll = timed_poll
    _time_the_write_lock()

    startup, shutdown = Server.startup, Server.shutdown

    async def probe_the_loop() -> None:
        while True:
            began = time.perf_counter()
            await asyncio.sleep(0.01)
            note("event loop", "lateness of a 10 ms sleep", time.perf_counter() - began - 0.01)

    async def startup_then_probe(self: Server, *args: Any, **kwargs: Any) -> None:
        await startup(self, *args, **kwargs)
        probes.add(asyncio.get_running_loop().create_task(probe_the_loop()))

    probes: set[asyncio.Task[None]] = set()  # held, so that the probe is not collected
    Server.startup = startup_then_probe  # type: ignore[method-assign]

    async def shutdown_then_write(self: Server, *args: Any, **kwargs: Any) -> None:
        await shutdown(self, *args, **kwargs)
        write(out)

    Server.shutdown = shutdown_then_write  # type: ignore[method-assign]


def _install_relay(out: str) -> None:
    from gateway.broker import is_live
    from gateway.relay import OutboxRelay
    from gateway.store import OutboxEntry

    publish, on_confirm, pending = OutboxRelay._publish, OutboxRelay._on_confirm, OutboxRelay._pending
    published: dict[int, tuple[str, float]] = {}  # delivery tag -> kind, when published

    def timed_publish(self: OutboxRelay, entry: OutboxEntry) -> None:
        kind = "alert" if is_live(entry.routing_key) else "document"
        note(kind, "relay: prepared in the API → published", datetime.now(UTC).timestamp() - entry.created_at.replace(tzinfo=UTC).timestamp())
        publish(self, entry)
        published[self.tag] = kind, time.perf_counter()

    def timed_on_confirm(self: OutboxRelay, frame: Any) -> None:
        method, now = frame.method, time.perf_counter()
        tags = [t for t in published if t <= method.delivery_tag] if method.multiple else [method.delivery_tag]
        for tag in tags:
            kind, at = published.pop(tag, ("other", now))
            note(kind, "relay: published → confirmed", now - at)
        on_confirm(self, frame)

    def timed_pending(self: OutboxRelay, limit: int) -> list[OutboxEntry]:
        began = time.perf_counter()
        rows = pending(self, limit)
        note("relay", "reading the outbox", time.perf_counter() - began)
        note("relay", READ, len(rows))
        return rows

    OutboxRelay._publish = timed_publish  # type: ignore[method-assign]
    OutboxRelay._on_confirm = timed_on_confirm  # type: ignore[method-assign]
    OutboxRelay._pending = timed_pending  # type: ignore[method-assign]
    _time_the_write_lock()
    atexit.register(write, out)


def _install_worker(out: str) -> None:
    from gateway import worker
    from gateway.broker import is_live
    from gateway.worker import Arrived, Rendered, Worker

    arrival, handle, render_all, place = worker._arrival, Worker._handle, Worker._render_all, Worker._place
    arrived_at: dict[int, float] = {}  # id of the delivery's method frame -> when it arrived

    def timed_arrival(into: list[Arrived], push: bool) -> Callable[..., None]:
        on_message = arrival(into, push)

        def noted(channel: Any, method: Any, properties: Any, body: bytes) -> None:
            arrived_at[id(method)] = time.perf_counter()
            on_message(channel, method, properties, body)

        return noted

    def counted_handle(self: Worker, channel: Any, batch: list[Arrived]) -> None:
        note("worker", ARRIVED, len(batch))
        handle(self, channel, batch)
        for item in batch:
            arrived_at.pop(id(item.method), None)

    def timed_render_all(self: Worker, channel: Any, batch: list[Arrived]) -> list[Rendered]:
        began = time.perf_counter()
        rendered = render_all(self, channel, batch)
        if batch:
            note("alert" if is_live(batch[0].method.routing_key) else "document", "worker: rendering the batch", time.perf_counter() - began)
        return rendered

    def timed_place(self: Worker, channel: Any, items: list[Rendered], urgent: bool) -> None:
        place(self, channel, items, urgent)
        now = time.perf_counter()
        for item in items:
            note("alert" if urgent else "document", "worker: arrived → committed", now - arrived_at.get(id(item.arrived.method), now))

    worker._arrival = timed_arrival
    Worker._handle = counted_handle  # type: ignore[method-assign]
    Worker._render_all = timed_render_all  # type: ignore[method-assign]
    Worker._place = timed_place  # type: ignore[method-assign]
    _time_the_write_lock()
    atexit.register(write, out)


ROLES = {"api": _install_api, "relay": _install_relay, "worker": _install_worker}
role = next((argument for argument in sys.argv[1:] if argument in ROLES), None)  # `-m gateway.cli worker --watch`
if os.environ.get("XIETONG_BENCH_TIMERS") and role:
    ROLES[role](os.path.join(os.environ["XIETONG_BENCH_TIMERS"], f"{role}.json"))
