"""Test setup: one private RabbitMQ node per session, and a real gateway (all its processes)
on a temporary data folder, talked to over real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import anyio
import httpx
import pytest

from gateway.broker_node import RABBITMQCTL, RabbitNode, ensure_rabbitmq_installed, free_port
from gateway.demo import wait_healthy
from gateway.directory import issue_key, load_directory
from gateway.settings import PACKAGE_DIR, Settings
from gateway.store import Store
from tests.postgres_node import PostgresNode

T = TypeVar("T")

DEMO_DIRECTORY = PACKAGE_DIR / "demo" / "directory.yaml"


@pytest.fixture(scope="session")
def rabbit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitNode]:
    ensure_rabbitmq_installed()
    node = RabbitNode(tmp_path_factory.mktemp("rabbit"), name="xietong-test")
    node.start()
    yield node
    node.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresNode]:
    node = PostgresNode()
    node.start()
    yield node
    node.stop()


@dataclass
class RunningGateway:
    """A gateway started as `xietong run` against the session's broker."""

    data_dir: Path
    broker_url: str
    port: int
    keys: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    roles: str | None = None  # `xietong run --roles`; None: all of them
    database_url: str | None = None  # None: the SQLite file in the data folder

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "XIETONG_DATA_DIR": str(self.data_dir),
            "XIETONG_BROKER_URL": self.broker_url,
            "XIETONG_PORT": str(self.port),
            "XIETONG_LOG_FORMAT": "json",
            # The watcher role runs a pass at start, then a day later: tests escalate with
            # `xietong watcher --once`, so no escalation lands in the middle of a counted change.
            "XIETONG_WATCH_SECONDS": "86400",
            **({"XIETONG_DATABASE_URL": self.database_url} if self.database_url else {}),
            **self.extra_env,
        }

    def start(self) -> None:
        log = open(self.data_dir / "gateway.log", "ab")
        roles = ["--roles", self.roles] if self.roles else []
        self.process = subprocess.Popen([sys.executable, "-m", "gateway.cli", "run", *roles], env=self.env, stdout=log, stderr=log)
        wait_healthy(self.base_url, timeout=30)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(30)
            self.process = None

    def client(self, unit_code: str) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"X-Api-Key": self.keys[unit_code]}, timeout=30)

    def store(self) -> Store:
        """The gateway's store, as its processes find it from their settings."""
        return Store(Settings(data_dir=self.data_dir, database_url=self.database_url).db_url)


def prepare_gateway(data_dir: Path, broker_url: str, database_url: str | None = None) -> RunningGateway:
    """A data folder with the demo directory loaded and a key for every unit."""
    data_dir.mkdir(parents=True, exist_ok=True)
    running = RunningGateway(data_dir, broker_url, free_port(), {}, database_url=database_url)
    store = running.store()
    entries = load_directory(store, DEMO_DIRECTORY)
    running.keys = {unit.code: issue_key(store, unit.code) for unit in entries.units}
    store.engine.dispose()
    return running


@pytest.fixture(scope="session")
def gateway(rabbit: RabbitNode, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    running = prepare_gateway(tmp_path_factory.mktemp("gateway"), rabbit.url)
    running.start()
    yield running
    running.stop()


@contextmanager
def gateway_in_vhost(
    rabbit: RabbitNode,
    data_dir: Path,
    vhost: str,
    extra_env: dict[str, str] | None = None,
    roles: str | None = None,
    database_url: str | None = None,
) -> Iterator[RunningGateway]:
    """A gateway of its own in a vhost of its own on the session's node: gateways sharing a vhost
    share queue names, and each would consume the other's deliveries."""
    with own_vhost(rabbit, vhost) as broker_url:
        running = prepare_gateway(data_dir, broker_url, database_url)
        running.extra_env = dict(extra_env or {})
        running.roles = roles
        running.start()
        try:
            yield running
        finally:
            running.stop()


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    """An async scenario, on a thread of its own: the browser tests' Playwright leaves an event
    loop on the main thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, scenario).result()


@contextmanager
def own_vhost(rabbit: RabbitNode, vhost: str) -> Iterator[str]:
    """A vhost on the session's node, deleted afterwards: its broker URL."""

    def rabbitmqctl(*command: str) -> None:
        subprocess.run([str(RABBITMQCTL), "-n", rabbit.node_name, *command], env=rabbit._env(), check=True, capture_output=True)

    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    try:
        yield rabbit.url.replace("/%2F", f"/{vhost}")
    finally:
        rabbitmqctl("delete_vhost", vhost)


@pytest.fixture(scope="module")
def fresh_gateway(
    rabbit: RabbitNode, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[RunningGateway]:
    """A gateway with an empty store for one test module, for flows whose recipients depend on
    what was sent before (the sentencing court is a recipient once it has sent in the case)."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    with gateway_in_vhost(rabbit, tmp_path_factory.mktemp(name), f"xietong-{name}") as running:
        yield running
