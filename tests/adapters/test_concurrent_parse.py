"""Threads parsing documents of every family at once, in a fresh interpreter, right after the
adapters load: none fails. libxml2 cannot compile an XSD while other threads compile or validate,
which once answered a court's submission under load with a 500."""

from __future__ import annotations

import subprocess
import sys

from tests.flows import ROOT

SCRIPT = r"""
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from adapters.base import registry

samples = [(name, path.read_bytes()) for name in ("court", "procuratorate", "police") for path in sorted(Path("adapters", name, "samples").glob("*.xml"))]
adapters = registry()

def parse(item):
    name, data = item
    return adapters[name].parse(data).kind

with ThreadPoolExecutor(16) as pool:
    kinds = list(pool.map(parse, samples * 20))
print(len(kinds))
"""


def test_threads_parse_every_family_at_once_after_a_cold_start() -> None:
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert done.returncode == 0, done.stderr[-2000:]
        assert int(done.stdout) > 0
