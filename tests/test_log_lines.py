"""In JSON, every line a gateway process writes to stderr is one JSON object, the libraries' own
records (uvicorn's, pika's) too: a log shipper that reads lines as JSON loses none of them, and
the line that says why a process could not start is among them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from gateway.broker_node import free_port


def _records(lines: list[str]) -> list[dict[str, object]]:
    records = []
    for number, line in enumerate(lines, 1):
        try:
            records.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"stderr line {number} is not JSON: {line!r}") from None
    return records


def test_the_api_that_cannot_bind_its_port_says_so_in_json(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "XIETONG_DATA_DIR": str(tmp_path), "XIETONG_HOST": "127.0.0.1", "XIETONG_PORT": str(port), "XIETONG_LOG_FORMAT": "json"}
        api = subprocess.run([sys.executable, "-m", "gateway.cli", "api"], env=env, capture_output=True, text=True, timeout=60)
    assert api.returncode != 0
    records = _records(api.stderr.splitlines())
    failure = [r for r in records if r.get("logger") == "uvicorn.error" and r.get("level") == "error"]
    assert failure and str(port) in str(failure[0]["event"]), records
    assert all("timestamp" in r for r in records)


def test_the_broker_clients_records_are_json_lines_too(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "XIETONG_DATA_DIR": str(tmp_path),
        "XIETONG_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F",
        "XIETONG_LOG_FORMAT": "json",
    }
    worker = subprocess.Popen([sys.executable, "-m", "gateway.cli", "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert worker.stderr is not None
    lines: list[str] = []
    try:
        for line in worker.stderr:  # pika reports the refused connection, then the worker says it waits
            lines.append(line)
            if "worker.disconnected" in line:
                break
    finally:
        worker.kill()
        worker.wait()
    records = _records(lines)
    assert any(str(r.get("logger", "")).startswith("pika") and r.get("level") == "error" for r in records), records
    assert records[-1]["event"] == "worker.disconnected"


WRITERS_AT_ONCE = """
import logging, threading, structlog
from gateway.logs import configure_logging
configure_logging("json", "info")
def ours():
    for n in range(3000):
        structlog.get_logger("worker").warning("worker.disconnected", n=n)
def theirs():
    for n in range(3000):
        logging.getLogger("pika.adapters.blocking_connection").error("Connection workflow failed: %s", n)
threads = [threading.Thread(target=f) for f in (ours, theirs)]
for t in threads: t.start()
for t in threads: t.join()
"""


def test_our_events_and_the_libraries_records_from_two_threads_never_share_a_line() -> None:
    """Two lanes of a worker log at once, one our event, the other pika's record: each line is
    still one whole JSON object (print() wrote a line and its newline apart, and a library record
    could land between them)."""
    writers = subprocess.run([sys.executable, "-c", WRITERS_AT_ONCE], capture_output=True, text=True, timeout=60)
    assert writers.returncode == 0, writers.stderr[-2000:]
    records = _records(writers.stderr.splitlines())
    assert len(records) == 6000
    assert sum(r["event"] == "worker.disconnected" for r in records) == 3000
