"""The API's per-document cost without HTTP, broker or other processes: court documents accepted
one after another on a fresh store under cProfile, with the functions that cost most.

    .venv/bin/python -m bench.acceptance_profile [--documents 500] [--top 40]

Single-threaded and in one process, so the figure is steadier than `bench/run`'s; cProfile roughly
doubles the time, so compare runs of this script with each other, not with `bench/run`.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gateway.directory import load_directory
from gateway.logs import configure_logging
from gateway.services import Services
from gateway.settings import PACKAGE_DIR, Settings

COURT = "11371621004370011G"  # 惠民县人民法院
SAMPLE = PACKAGE_DIR.parent / "adapters" / "court" / "samples" / "handover.judgment_effective.xml"


@contextmanager
def demo_services() -> Iterator[Services]:
    """The gateway's services on a fresh store with the demo directory, in a temporary folder."""
    configure_logging("json", "warning")
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder))
        load_directory(Services.build(settings).store, PACKAGE_DIR / "demo" / "directory.yaml")
        yield Services.build(settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=500)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    with demo_services() as services:
        unit, document = services.directory.units[COURT], SAMPLE.read_bytes()
        for n in range(50):  # warm-up: caches, compiled statements
            services.acceptance.accept(unit, "court", document + f"<!-- warm-up {n} -->".encode(), [])
        profile = cProfile.Profile()
        began = time.perf_counter()
        profile.enable()
        for n in range(args.documents):
            services.acceptance.accept(unit, "court", document + f"<!-- {n} -->".encode(), [])
        profile.disable()
        per_document = (time.perf_counter() - began) / args.documents * 1000
        print(f"{args.documents} court documents accepted, {per_document:.2f} ms each under cProfile")
        pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
