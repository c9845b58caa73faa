"""The store's write lock (`WriteLock`): an alert's transaction takes it ahead of the others that
wait for it, whether they are other processes (each with a lock of its own on the same file) or
threads of the same one (the worker's lanes, sharing one)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from gateway.store import WriteLock

ROUNDS = 10


@pytest.mark.parametrize("shared", [False, True], ids=["a lock each", "one lock shared"])
def test_an_urgent_writer_takes_the_lock_before_the_writers_that_waited_longer(tmp_path: Path, shared: bool) -> None:
    path = str(tmp_path / "xietong.db.writelock")
    holder = WriteLock(path)
    documents, alerts = (holder, holder) if shared else (WriteLock(path), WriteLock(path))
    for _ in range(ROUNDS):
        order: list[str] = []
        held, release = threading.Event(), threading.Event()

        def hold() -> None:
            with holder.held():
                held.set()
                release.wait(5)

        def write(lock: WriteLock, name: str, urgent: bool) -> None:
            with lock.held(urgent):
                order.append(name)

        threads = [threading.Thread(target=hold)]
        threads[0].start()
        assert held.wait(5)
        threads.append(threading.Thread(target=write, args=(documents, "document", False)))
        threads[-1].start()
        time.sleep(0.05)  # the document's transaction waits first
        threads.append(threading.Thread(target=write, args=(alerts, "alert", True)))
        threads[-1].start()
        time.sleep(0.05)
        release.set()
        for thread in threads:
            thread.join(5)
        assert order == ["alert", "document"]


def test_writers_without_urgency_still_take_turns(tmp_path: Path) -> None:
    """The gate costs the others nothing but a look: many writers, none urgent, all get through, one at a time."""
    path = str(tmp_path / "xietong.db.writelock")
    inside, most_inside, finished = [0], [0], []
    count, lock = threading.Lock(), WriteLock(path)

    def write(n: int) -> None:
        for _ in range(20):
            with lock.held(urgent=n == 0):
                with count:
                    inside[0] += 1
                    most_inside[0] = max(most_inside[0], inside[0])
                time.sleep(0.001)
                with count:
                    inside[0] -= 1
        finished.append(n)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(finished) == [0, 1, 2, 3]
    assert most_inside[0] == 1
