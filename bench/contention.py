"""What the GIL's handovers cost acceptance: alerts prepared and court documents committed in one
process, first alone, then beside a thread that runs Python flat out (as the API's event loop and
its other threads do under load).

    .venv/bin/python -m bench.contention [--submissions 200]

Every SQLite step and system call hands the GIL over, and under load getting it back waits for
the other threads. `bench/run` cannot see a change of a few steps through its noise; this can:
a read session without its BEGIN and ROLLBACK took an alert's prepare beside the busy thread
from p50 24.5 and 24.8 to 18.9 and 19.4 ms (two runs each, alternating; alone, ~2 ms either way).
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from bench.acceptance_profile import demo_services
from gateway.acceptance import Acceptance
from gateway.directory import UnitInfo
from gateway.settings import PACKAGE_DIR

COURT = "11371621004370011G"  # 惠民县人民法院
JUSTICE_BUREAU = "113716210043700740"  # 惠民县司法局
SAMPLES = PACKAGE_DIR.parent / "adapters"


@contextmanager
def busy_thread(busy: bool) -> Iterator[None]:
    """A thread that runs Python without pause while the block runs, if `busy`."""
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(100))

    spinner = threading.Thread(target=spin, daemon=True)
    if busy:
        spinner.start()
    try:
        yield
    finally:
        stop.set()
        if busy:
            spinner.join()


def alert(n: int) -> bytes:
    body = json.loads((SAMPLES / "canonical" / "samples" / "supervision.alert.json").read_bytes())
    body["payload"]["detected_at"] = f"2025-05-14T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}+08:00"
    return json.dumps(body, ensure_ascii=False).encode()


def judgment(n: int) -> bytes:
    return (SAMPLES / "court" / "samples" / "handover.judgment_effective.xml").read_bytes() + f"<!-- {n} -->".encode()


def timed(acceptance: Acceptance, unit: UnitInfo, adapter: str, document: Callable[[int], bytes], numbers: range) -> tuple[list[float], list[float]]:
    """Each submission's prepare and its commit (hand-in to written), in seconds."""
    prepares, commits = [], []
    for n in numbers:
        began = time.perf_counter()
        pending = acceptance.prepare(unit, adapter, document(n), [])
        prepared = time.perf_counter()
        acceptance.settle(pending)
        prepares.append(prepared - began)
        commits.append(time.perf_counter() - prepared)
    return prepares, commits


def figure(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    return f"p50 {statistics.median(ordered) * 1000:5.1f} / p90 {ordered[int(len(ordered) * 0.9)] * 1000:5.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=200, help="of each kind, alone and beside the busy thread")
    args = parser.parse_args()
    with demo_services() as services:
        units = services.directory.units
        count = args.submissions
        timed(services.acceptance, units[JUSTICE_BUREAU], "canonical", alert, range(30))  # warm-up
        timed(services.acceptance, units[COURT], "court", judgment, range(30))
        for round_, busy in enumerate((False, True), start=1):
            numbers = range(round_ * 10_000, round_ * 10_000 + count)
            with busy_thread(busy):
                alert_prepare, _ = timed(services.acceptance, units[JUSTICE_BUREAU], "canonical", alert, numbers)
                _, court_commit = timed(services.acceptance, units[COURT], "court", judgment, numbers)
            where = "beside a busy thread" if busy else "alone               "
            print(f"{where}  alert prepare {figure(alert_prepare)}   court document commit {figure(court_commit)}")


if __name__ == "__main__":
    main()
