"""The adapters' own cost, without HTTP, store or broker: microseconds to parse the court documents
(the handover documents notice that `bench/run` sends, and the judgment) and the police
fence-breach alert, and to render the judgment in each of its three recipients' formats.

    .venv/bin/python -m bench.codec [--rounds 2000]

Each figure is the best of five timed loops, so it moves little with the machine's noise. Drafts
are stamped into canonical messages by the unit tests' helper (the gateway's own stamping needs a
store and a directory).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from adapters.base import registry
from gateway.settings import PACKAGE_DIR
from tests.adapters.stamping import stamp

SAMPLES = PACKAGE_DIR.parent / "adapters"
HANDOVER = SAMPLES / "court" / "samples" / "handover.documents.xml"
JUDGMENT = SAMPLES / "court" / "samples" / "handover.judgment_effective.xml"
ALERT = SAMPLES / "police" / "samples" / "supervision.alert.xml"


def best_microseconds(call: Callable[[], Any], rounds: int) -> float:
    for _ in range(rounds // 10):  # warm-up: caches
        call()
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(rounds):
            call()
        timings.append(time.perf_counter() - started)
    return min(timings) / rounds * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    adapters = registry()
    handover, judgment, alert = HANDOVER.read_bytes(), JUDGMENT.read_bytes(), ALERT.read_bytes()
    figures = {
        "parse court handover documents (what bench/run sends)": best_microseconds(lambda: adapters["court"].parse(handover), args.rounds),
        "parse court judgment (handover.judgment_effective)": best_microseconds(lambda: adapters["court"].parse(judgment), args.rounds),
        "parse police alert (supervision.alert)": best_microseconds(lambda: adapters["police"].parse(alert), args.rounds),
    }
    message = stamp(adapters["court"].parse(judgment))
    for name in ("canonical", "procuratorate", "police"):
        figures[f"render the judgment for {name}"] = best_microseconds(lambda name=name: adapters[name].render(message), args.rounds)
    for figure, microseconds in figures.items():
        print(f"{figure:55} {microseconds:8.1f} µs")


if __name__ == "__main__":
    main()
