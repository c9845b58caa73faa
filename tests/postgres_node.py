"""A private PostgreSQL cluster for the tests and the bench, as `gateway/broker_node.py` is a
private RabbitMQ node: Debian's binaries, a folder of its own, a free port."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from gateway.broker_node import free_port

POSTGRES_BINARIES = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))


class PostgresNode:
    """A private PostgreSQL cluster in a folder of its own under /tmp, on a free port, trusting
    local connections: the design's store "at scale", for the tests that run the gateway on it.
    initdb refuses to run as root, so under root the cluster runs as Debian's `postgres` user."""

    def __init__(self) -> None:
        if not POSTGRES_BINARIES:
            raise RuntimeError("PostgreSQL is not installed: scripts/setup --tests installs Debian's postgresql package")
        self.bin = POSTGRES_BINARIES[-1].parent
        self.root = Path(tempfile.mkdtemp(prefix="xietong-pg-"))  # not under pytest's folder, which only root may enter
        self.port = free_port()

    def _run(self, *command: str) -> None:
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*as_postgres, *command], check=True, capture_output=True, text=True)

    def start(self) -> None:
        """Create the cluster, the first time, and start its server."""
        data = self.root / "data"
        if not data.exists():
            if os.geteuid() == 0:
                shutil.chown(self.root, "postgres", "postgres")
            self._run(str(self.bin / "initdb"), "-D", str(data), "-A", "trust", "-U", "xietong", "-E", "UTF8", "--no-instructions")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200"
        self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(self.root / "server.log"), "-o", options, "-w", "start")

    def halt(self) -> None:
        """Stop the server, keeping its data: `start` brings it back (a database restart)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        self.halt()
        shutil.rmtree(self.root, ignore_errors=True)

    def pids(self) -> list[int]:
        """The server's processes: the postmaster and its children (one backend per connection)."""
        postmaster = int((self.root / "data" / "postmaster.pid").read_text().split()[0])
        return [postmaster, *map(int, Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split())]

    def database(self, name: str) -> str:
        """A new, empty database: its URL."""
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "xietong", name)
        return f"postgresql+psycopg://xietong@127.0.0.1:{self.port}/{name}"
