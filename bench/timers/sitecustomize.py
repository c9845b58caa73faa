"""`bench/run --timers`: where a submission's time goes inside the API process.

Python imports this module at start-up when its folder is on PYTHONPATH, which `bench/run
--timers` sets for the gateway alone. In the `api` role it wraps acceptance, the group commit
and the write lock with timers, files each submission's timings under "alert" or "document" (by
the kind it was accepted as), and at exit writes every timer's percentiles as JSON to
$XIETONG_BENCH_TIMERS once uvicorn has shut down (not at exit: uvicorn ends by raising the SIGTERM
it caught again). Wall time, not CPU: the waits are what it is for.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


def _install(out: str) -> None:
    from uvicorn.server import Server

    from gateway.acceptance import Acceptance
    from gateway.live import live_kinds
    from gateway.store import Store, WriteLock

    local = threading.local()
    filed: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    filing = threading.Lock()

    def note(timer: str, seconds: float) -> None:
        pending = getattr(local, "pending", None)
        if pending is not None:
            pending.append((timer, seconds))

    def timed(method: Callable[..., Any], timer: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                note(timer, time.perf_counter() - began)

        return wrapper

    accept = Acceptance.accept

    def timed_accept(self: Acceptance, *args: Any, **kwargs: Any) -> Any:
        local.pending = []
        began = time.perf_counter()
        accepted = accept(self, *args, **kwargs)
        note("acceptance", time.perf_counter() - began)
        kind = "alert" if accepted.kind in live_kinds() else "document"
        with filing:
            for timer, seconds in local.pending:
                filed[kind][timer].append(seconds)
        local.pending = None
        return accepted

    held = WriteLock.held

    @contextmanager
    def timed_held(self: WriteLock) -> Iterator[None]:
        began = time.perf_counter()
        with held(self):
            note("write lock: waiting", time.perf_counter() - began)
            taken = time.perf_counter()
            yield
            note("write lock: holding", time.perf_counter() - taken)

    Acceptance.accept = timed_accept  # type: ignore[method-assign]
    Store.write_together = timed(Store.write_together, "group commit: waiting and writing")  # type: ignore[method-assign]
    WriteLock.held = timed_held  # type: ignore[method-assign]

    def write() -> None:
        def percentiles(values: list[float]) -> dict[str, float]:
            ordered = sorted(values)
            return {"n": len(ordered), **{f"p{q}_ms": round(1000 * ordered[min(len(ordered) - 1, len(ordered) * q // 100)], 1) for q in (50, 90, 99)}}

        with filing:
            figures = {kind: {timer: percentiles(values) for timer, values in timers.items()} for kind, timers in filed.items()}
        with open(out, "w", encoding="utf-8") as file:
            json.dump(figures, file, ensure_ascii=False, indent=2)

    shutdown = Server.shutdown

    async def shutdown_then_write(self: Server, *args: Any, **kwargs: Any) -> None:
        await shutdown(self, *args, **kwargs)
        write()

    Server.shutdown = shutdown_then_write  # type: ignore[method-assign]


if sys.argv[-1:] == ["api"] and os.environ.get("XIETONG_BENCH_TIMERS"):
    _install(os.environ["XIETONG_BENCH_TIMERS"])
