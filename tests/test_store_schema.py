"""The roles of a gateway start at once: on a new database each finds the tables missing, and
each must start, not all but one fail on "already exists"."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gateway.store import Store, WriteLock

STARTERS = 6

STARTER = """
import os, sys, time
from gateway.store import Store
print("ready", flush=True)
while not os.path.exists(sys.argv[2]):  # every one imported and waiting: then all at once
    time.sleep(0.001)
Store(sys.argv[1])
"""


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_roles_starting_at_once_on_a_new_database_all_start(tmp_path: Path, request: pytest.FixtureRequest, database: str) -> None:
    if database == "postgresql":
        url = request.getfixturevalue("postgres").database(f"schema_{tmp_path.name.lower()}")
    else:
        url = f"sqlite:///{tmp_path / 'xietong.db'}"
    go = tmp_path / "go"
    starters = [subprocess.Popen([sys.executable, "-c", STARTER, url, str(go)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(STARTERS)]
    for starter in starters:
        assert starter.stdout is not None and starter.stdout.readline() == "ready\n"
    go.touch()
    failed = [error[-500:] for starter in starters if (error := starter.communicate(timeout=60)[1]) and starter.returncode]
    assert not failed, f"{len(failed)} of {STARTERS} failed to start: {failed[0]}"


def test_a_store_that_has_its_tables_is_opened_without_the_write_lock(tmp_path: Path) -> None:
    """Every start but the first finds the tables there: opening the store then waits for no
    writer (a worker restarted under load, `xietong audit verify` beside a busy gateway)."""
    url = f"sqlite:///{tmp_path / 'xietong.db'}"
    first = Store(url)
    assert first.write_lock is not None
    opened = threading.Event()
    with WriteLock(first.write_lock.path).held():  # a writer busy meanwhile
        opener = threading.Thread(target=lambda: (Store(url).engine.dispose(), opened.set()))
        opener.start()
        assert opened.wait(10), "opening the store waited for the write lock"
    opener.join()
    first.engine.dispose()
