"""The worker stops when told (SIGTERM), also while no broker answers: its lanes then keep
reconnecting, and a stop must end that too, not wait for a broker that may never come back.

The kernel hands a SIGTERM sent to the process to any of its threads that does not block it,
so the worker must stop however the signal arrives: at its main thread or at a lane's."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.broker_node import free_port


def _to_the_process(pid: int) -> None:
    os.kill(pid, signal.SIGTERM)


def _to_a_lane_thread(pid: int) -> None:
    lanes = sorted(int(tid) for tid in os.listdir(f"/proc/{pid}/task") if int(tid) != pid)
    assert lanes, "the worker has no thread besides its main one"
    assert ctypes.CDLL(None, use_errno=True).tgkill(pid, lanes[-1], signal.SIGTERM) == 0


@pytest.mark.parametrize("deliver", [_to_the_process, _to_a_lane_thread], ids=["to the process", "to a lane's thread"])
def test_a_worker_that_cannot_reach_the_broker_stops_on_sigterm(tmp_path: Path, deliver: Callable[[int], None]) -> None:
    broker = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"
    # PYTHONFAULTHANDLER: should it hang, a SIGABRT makes it print where each of its threads is
    env = {**os.environ, "XIETONG_DATA_DIR": str(tmp_path), "XIETONG_BROKER_URL": broker, "XIETONG_LOG_FORMAT": "json", "PYTHONFAULTHANDLER": "1"}
    worker = subprocess.Popen([sys.executable, "-m", "gateway.cli", "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert worker.stderr is not None
    try:
        for line in worker.stderr:  # it has tried, and waits to try again
            if "worker.disconnected" in line:
                break
        deliver(worker.pid)
        began = time.monotonic()
        worker.wait(15)
    except subprocess.TimeoutExpired:
        worker.send_signal(signal.SIGABRT)
        pytest.fail(f"the worker did not stop within 15 s; where its threads were:\n{worker.communicate(timeout=15)[1][-6000:]}")
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0
    assert time.monotonic() - began < 5
