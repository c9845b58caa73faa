"""`bench/run --timers`: where a submission's time goes inside the API process.

Python imports this module at start-up when its folder is on PYTHONPATH, which `bench/run
--timers` sets for the gateway alone. In the `api` role it wraps the admission, preparing, the
group commit and the write lock with timers, files each submission's timings under "alert" or
"document" (by its turn, or the kind it was accepted as) and each shared transaction's under
"batch", and writes every timer's percentiles as JSON to $XIETONG_BENCH_TIMERS once uvicorn has
shut down (not at exit: uvicorn ends by raising the SIGTERM it caught again). Wall time, not CPU:
the waits are what it is for.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

COUNTED = "submissions per batch"  # a count; every other figure is seconds, written as ms


def _install(out: str) -> None:
    from uvicorn.server import Server

    from gateway.acceptance import Acceptance, Pending
    from gateway.admission import Admission
    from gateway.live import live_kinds
    from gateway.store import Store, WriteLock

    filed: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    filing = threading.Lock()

    def note(kind: str, timer: str, value: float) -> None:
        with filing:
            filed[kind][timer].append(value)

    def kind_of(message_kind: str) -> str:
        return "alert" if message_kind in live_kinds() else "document"

    accept, prepare, submit, hand_in = Admission.accept, Acceptance.prepare, Admission.submit, Store.hand_in

    async def timed_accept(self: Admission, alert: bool, *args: Any) -> Any:
        began = time.perf_counter()
        accepted = await accept(self, alert, *args)
        note(kind_of(accepted.kind), "acceptance: turn, preparing, commit", time.perf_counter() - began)
        return accepted

    def timed_submit(self: Admission, alert: bool, work: Callable[[], Any]) -> Any:
        began = time.perf_counter()

        def noted() -> Any:
            note("alert" if alert else "document", "waiting for a turn", time.perf_counter() - began)
            return work()

        return submit(self, alert, noted)

    def timed_prepare(self: Acceptance, *args: Any) -> Pending:
        began = time.perf_counter()
        pending = prepare(self, *args)
        note(kind_of(pending.accepted.kind), "preparing", time.perf_counter() - began)
        return pending

    def timed_hand_in(self: Store, item: Any, writer: Any) -> Future[None]:
        began = time.perf_counter()
        written = hand_in(self, item, writer)
        kind = kind_of(item.message["kind"]) if hasattr(item, "message") else "other"
        written.add_done_callback(lambda _: note(kind, "commit: handed in to written", time.perf_counter() - began))
        return written

    commit_together, held = Store._commit_together, WriteLock.held

    def counted_commit_together(self: Store, batch: list[Any]) -> None:
        note("batch", COUNTED, len(batch))
        commit_together(self, batch)

    @contextmanager
    def timed_held(self: WriteLock) -> Iterator[None]:
        began = time.perf_counter()
        with held(self):
            note("batch", "write lock: waiting", time.perf_counter() - began)
            taken = time.perf_counter()
            yield
            note("batch", "write lock: holding", time.perf_counter() - taken)

    Admission.accept = timed_accept  # type: ignore[method-assign]
    Admission.submit = timed_submit  # type: ignore[method-assign]
    Acceptance.prepare = timed_prepare  # type: ignore[method-assign]
    Store.hand_in = timed_hand_in  # type: ignore[method-assign]
    Store._commit_together = counted_commit_together  # type: ignore[method-assign]
    WriteLock.held = timed_held  # type: ignore[method-assign]

    def write() -> None:
        def percentiles(timer: str, values: list[float]) -> dict[str, Any]:
            ordered, scale = sorted(values), 1 if timer == COUNTED else 1000
            return {"n": len(ordered), "unit": "" if timer == COUNTED else "ms", **{f"p{q}": round(scale * ordered[min(len(ordered) - 1, len(ordered) * q // 100)], 1) for q in (50, 90, 99)}}

        with filing:
            figures = {kind: {timer: percentiles(timer, values) for timer, values in timers.items()} for kind, timers in filed.items()}
        with open(out, "w", encoding="utf-8") as file:
            json.dump(figures, file, ensure_ascii=False, indent=2)

    shutdown = Server.shutdown

    async def shutdown_then_write(self: Server, *args: Any, **kwargs: Any) -> None:
        await shutdown(self, *args, **kwargs)
        write()

    Server.shutdown = shutdown_then_write  # type: ignore[method-assign]


if sys.argv[-1:] == ["api"] and os.environ.get("XIETONG_BENCH_TIMERS"):
    _install(os.environ["XIETONG_BENCH_TIMERS"])
