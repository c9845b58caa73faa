"""The worker stops when told (SIGTERM), also while no broker answers: its lanes then keep
reconnecting, and a stop must end that too, not wait for a broker that may never come back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from gateway.broker_node import free_port


def test_a_worker_that_cannot_reach_the_broker_stops_on_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "XIETONG_DATA_DIR": str(tmp_path), "XIETONG_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F", "XIETONG_LOG_FORMAT": "json"}
    worker = subprocess.Popen([sys.executable, "-m", "gateway.cli", "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert worker.stderr is not None
        for line in worker.stderr:  # it has tried, and waits to try again
            if "worker.disconnected" in line:
                break
        worker.send_signal(signal.SIGTERM)
        began = time.monotonic()
        worker.wait(15)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0
    assert time.monotonic() - began < 5
