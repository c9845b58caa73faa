"""Private RabbitMQ nodes run from the packaged scripts, without systemd.

The gateway starts one when no broker URL is configured, the test suite starts
one per session, and fault-injection tests stop, kill and restart one (or one
member of a RabbitCluster). Each node keeps everything (data, logs, config, HOME
with the Erlang cookie) under its own folder, listens on loopback only, and talks
to an epmd of its own port, so several nodes (of several test sessions) can share
the machine.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import string
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType

import pika
import pika.exceptions
import structlog

log = structlog.get_logger(__name__)

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
RABBITMQ_SERVER = RABBITMQ_BIN / "rabbitmq-server"
RABBITMQCTL = RABBITMQ_BIN / "rabbitmqctl"
LOOPBACK = "127.0.0.1"
POLL_SECONDS = 0.25


def ensure_rabbitmq_installed() -> None:
    """Install the Debian package when missing: the machines ship without a broker."""
    if RABBITMQ_SERVER.exists():
        return
    log.info("broker_node.installing", package="rabbitmq-server")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "rabbitmq-server"]):
        try:
            subprocess.run(command, env=env, check=True, capture_output=True, text=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", None) or str(exc)
            raise RuntimeError(
                f"cannot install RabbitMQ: `{' '.join(command)}` failed: {detail.strip()[-2000:]}"
            ) from exc
    if not RABBITMQ_SERVER.exists():
        raise RuntimeError(f"rabbitmq-server installed but {RABBITMQ_SERVER} is missing")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    """Whether a listener could bind the port (SO_REUSEADDR, as Erlang's listeners use)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def _port_accepts(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll condition every POLL_SECONDS until it holds or timeout passes."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True


def _is_alive(pid: int) -> bool:
    """Whether pid runs and is not a zombie (PID 1 here does not always reap orphans)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _processes_with_env(comm: str | None, required: dict[str, str]) -> list[int]:
    """Live PIDs whose environment holds all of required (and whose name is comm, if given).

    The beam, its helpers and the epmd it spawns inherit the node's environment,
    so the environment identifies them even before the pid file is written.
    """
    wanted = {f"{key}={value}".encode() for key, value in required.items()}
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if comm is not None and (entry / "comm").read_text().strip() != comm:
                continue
            environ = set((entry / "environ").read_bytes().split(b"\0"))
        except OSError:
            continue
        if wanted <= environ and _is_alive(int(entry.name)):
            pids.append(int(entry.name))
    return pids


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _epmd_names(epmd_port: int) -> list[str] | None:
    """Node names registered in the epmd on epmd_port (NAMES_REQ), None if it does not answer."""
    try:
        with socket.create_connection((LOOPBACK, epmd_port), timeout=2) as sock:
            sock.sendall(b"\x00\x01n")
            reply = b""
            while chunk := sock.recv(4096):
                reply += chunk
    except OSError:
        return None
    # After a 4-byte port number come lines "name <node> at port <dist port>".
    return [line.split()[1] for line in reply[4:].decode().splitlines() if line.startswith("name ")]


@dataclass
class _Identity:
    """What must stay the same across restarts of a node; persisted in ports.json."""

    node_name: str
    amqp_port: int
    dist_port: int
    epmd_port: int
    management_port: int | None


class RabbitNode:
    """One RabbitMQ node under base_dir, on loopback ports that survive restarts.

    Nodes meant to form a cluster share ERL_EPMD_PORT (pass the same epmd_port) and the
    Erlang cookie (pass the same home): stopping one ends the epmd only once no other
    node is registered in it. RabbitCluster sets this up.
    """

    def __init__(
        self,
        base_dir: Path,
        name: str = "xietong",
        amqp_port: int | None = None,
        dist_port: int | None = None,
        epmd_port: int | None = None,
        management: bool = False,
        home: Path | None = None,
    ) -> None:
        self.base_dir = Path(base_dir).resolve()
        self.management = management
        self.home = Path(home).resolve() if home is not None else self.base_dir / "home"
        self.mnesia_base = self.base_dir / "mnesia"
        self.log_dir = self.base_dir / "log"
        self.pid_file = self.base_dir / "rabbitmq.pid"
        self.config_file = self.base_dir / "rabbitmq.conf"
        self.plugins_file = self.base_dir / "enabled_plugins"
        self.conf_env_file = self.base_dir / "rabbitmq-env.conf"
        self.ports_file = self.base_dir / "ports.json"
        self._identity = self._resolve_identity(name, amqp_port, dist_port, epmd_port)

    @property
    def node_name(self) -> str:
        return self._identity.node_name

    @property
    def amqp_port(self) -> int:
        return self._identity.amqp_port

    @property
    def dist_port(self) -> int:
        return self._identity.dist_port

    @property
    def epmd_port(self) -> int:
        return self._identity.epmd_port

    @property
    def management_port(self) -> int | None:
        return self._identity.management_port

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{LOOPBACK}:{self.amqp_port}/%2F"

    @property
    def log_file(self) -> Path:
        return self.log_dir / f"{self.node_name}.log"

    def _resolve_identity(
        self, name: str, amqp_port: int | None, dist_port: int | None, epmd_port: int | None
    ) -> _Identity:
        """Reuse the stored node name and ports so a restart finds its data and its clients.

        A stored port that something else took is replaced; the node name is kept
        even then, because the data in mnesia belongs to the node name.
        """
        stored = None
        if self.ports_file.exists():
            stored = _Identity(**json.loads(self.ports_file.read_text()))
            if not stored.node_name.startswith(f"{name}-"):
                stored = None
        if stored is not None:
            self._identity = stored
            if self._beam_pids():
                return stored  # our node is up: its ports are taken by itself
            self._stop_epmd()  # left behind by a node that was killed or crashed
        requested = {"amqp_port": amqp_port, "dist_port": dist_port, "epmd_port": epmd_port}
        if self.management:
            requested["management_port"] = None
        ports = {key: explicit for key, explicit in requested.items() if explicit is not None}
        for key in requested.keys() - ports.keys():
            previous = getattr(stored, key, None)
            if previous is not None and previous not in ports.values() and _port_is_free(previous):
                ports[key] = previous
        for key in requested.keys() - ports.keys():
            port = free_port()
            while port in ports.values():
                port = free_port()
            ports[key] = port
        if stored is not None and ports["amqp_port"] != stored.amqp_port:
            log.warning(
                "broker_node.port_changed", node=stored.node_name, old=stored.amqp_port, new=ports["amqp_port"]
            )
        identity = _Identity(
            node_name=stored.node_name if stored is not None else f"{name}-{ports['amqp_port']}@localhost",
            amqp_port=ports["amqp_port"],
            dist_port=ports["dist_port"],
            epmd_port=ports["epmd_port"],
            management_port=ports.get("management_port"),
        )
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.ports_file.write_text(json.dumps(asdict(identity), indent=2) + "\n")
        return identity

    def _env(self) -> dict[str, str]:
        """The environment that points the packaged scripts at this node's folder and ports."""
        inherited = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("RABBITMQ_", "ERL_"))
        }
        return {
            **inherited,
            "HOME": str(self.home),
            "RABBITMQ_NODENAME": self.node_name,
            "RABBITMQ_NODE_IP_ADDRESS": LOOPBACK,
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": LOOPBACK,
            "RABBITMQ_MNESIA_BASE": str(self.mnesia_base),
            "RABBITMQ_LOG_BASE": str(self.log_dir),
            "RABBITMQ_PID_FILE": str(self.pid_file),
            "RABBITMQ_CONFIG_FILE": str(self.config_file),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.plugins_file),
            "RABBITMQ_CONF_ENV_FILE": str(self.conf_env_file),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    def _write_config(self) -> None:
        """Write config files on every start so a node always runs with the current settings."""
        for folder in (self.home, self.mnesia_base, self.log_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.conf_env_file.write_text("")
        lines = [
            f"listeners.tcp.default = {LOOPBACK}:{self.amqp_port}",
            "log.console = false",
            "log.file.level = info",
            "vm_memory_high_watermark.relative = 0.4",
            "disk_free_limit.absolute = 50MB",
        ]
        plugins = []
        if self.management:
            lines += [f"management.tcp.ip = {LOOPBACK}", f"management.tcp.port = {self.management_port}"]
            plugins.append("rabbitmq_management")
        self.config_file.write_text("\n".join(lines) + "\n")
        self.plugins_file.write_text(f"[{','.join(plugins)}].\n")

    def _node_env(self) -> dict[str, str]:
        """What every process of this node carries in its environment."""
        return {"RABBITMQ_NODENAME": self.node_name, "RABBITMQ_MNESIA_BASE": str(self.mnesia_base)}

    def _beam_pids(self) -> list[int]:
        """The running VM of this node (at most one), found by its environment."""
        return _processes_with_env("beam.smp", self._node_env())

    def _amqp_accepts(self) -> bool:
        """Whether an AMQP connection opens: the node is only usable from that point on."""
        if not _port_accepts(self.amqp_port):
            return False
        parameters = pika.URLParameters(self.url)
        parameters.connection_attempts = 1
        parameters.socket_timeout = 1.0
        parameters.stack_timeout = 2.0
        parameters.blocked_connection_timeout = 1.0
        try:
            pika.BlockingConnection(parameters).close()
        except (pika.exceptions.AMQPError, OSError):
            return False
        return True

    def is_running(self) -> bool:
        """Whether this node's VM runs and accepts AMQP connections."""
        return bool(self._beam_pids()) and self._amqp_accepts()

    def start(self, timeout: float = 60) -> None:
        """Start the node detached and return once it accepts AMQP (not on ping: that is ~4 s early)."""
        if self.is_running():
            return
        ensure_rabbitmq_installed()
        started = time.monotonic()
        if not self._beam_pids():
            self._write_config()
            log.info(
                "broker_node.starting", node=self.node_name, port=self.amqp_port, base_dir=str(self.base_dir)
            )
            with (self.log_dir / "rabbitmq-server.out").open("ab") as output:
                subprocess.run(
                    [str(RABBITMQ_SERVER), "-detached"],
                    env=self._env(),
                    cwd=self.base_dir,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    check=True,
                )
        if not _wait_until(self._amqp_accepts, timeout):
            self.kill()
            raise RuntimeError(
                f"RabbitMQ node {self.node_name} did not accept AMQP on port {self.amqp_port} "
                f"within {timeout:.0f} s; see {self.log_file}"
            )
        log.info("broker_node.ready", node=self.node_name, url=self.url, seconds=round(time.monotonic() - started, 1))

    def ctl(self, *command: str, timeout: float = 60) -> str:
        """Run `rabbitmqctl <command>` against this node and return its output; RuntimeError if it fails."""
        result = self._rabbitmqctl(*command, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(
                f"rabbitmqctl {' '.join(command)} on {self.node_name} failed: {(result.stdout + result.stderr).strip()[-2000:]}"
            )
        return result.stdout

    def _rabbitmqctl(self, *command: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(RABBITMQCTL), *command],
            check=False,
            env=self._env(),
            cwd=self.base_dir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def stop(self, timeout: float = 60) -> None:
        """Stop the node cleanly (queues are flushed), then end its epmd if no other node uses it."""
        self._stop_vm(timeout)
        self._stop_epmd()

    def _stop_vm(self, timeout: float) -> None:
        if not self._beam_pids():
            return
        started = time.monotonic()
        log.info("broker_node.stopping", node=self.node_name)
        result = self._rabbitmqctl("stop", timeout=timeout)
        if result.returncode != 0 or not _wait_until(self._is_down, timeout):
            log.warning("broker_node.stop_failed", node=self.node_name, output=result.stdout + result.stderr)
            self._kill_beam()
        log.info("broker_node.stopped", node=self.node_name, seconds=round(time.monotonic() - started, 1))

    def kill(self) -> None:
        """SIGKILL the VM, as a crash would, then end its epmd if no other node uses it."""
        if self._beam_pids():
            self._kill_beam()
            log.info("broker_node.killed", node=self.node_name)
        self._stop_epmd()

    def _is_down(self) -> bool:
        """Down once the VM and its helpers (erl_child_setup, which outlives the beam by a moment)
        are gone and the port is closed; the epmd it spawned is stopped on its own."""
        helpers = [pid for pid in _processes_with_env(None, self._node_env()) if _comm(pid) != "epmd"]
        return not helpers and not _port_accepts(self.amqp_port)

    def _kill_beam(self) -> None:
        for pid in self._beam_pids():
            os.kill(pid, signal.SIGKILL)
        if not _wait_until(self._is_down, 10):
            raise RuntimeError(f"RabbitMQ node {self.node_name} survived SIGKILL")

    def _stop_epmd(self) -> None:
        """End the epmd serving our ERL_EPMD_PORT: the VM leaves it behind even on a clean stop.

        It is kept while other nodes (of a cluster sharing the port) are registered.
        """
        pids = _processes_with_env("epmd", {"ERL_EPMD_PORT": str(self.epmd_port)})
        if not pids:
            return
        short_name = self.node_name.split("@")[0]
        names: list[str] | None = []

        def our_name_gone() -> bool:
            nonlocal names
            names = _epmd_names(self.epmd_port)
            return names is None or short_name not in names

        _wait_until(our_name_gone, 5)
        if names:
            log.info("broker_node.epmd_kept", port=self.epmd_port, registered=names)
            return
        for pid in pids:
            os.kill(pid, signal.SIGTERM)
        if not _wait_until(lambda: not any(_is_alive(pid) for pid in pids), 5):
            raise RuntimeError(f"epmd on port {self.epmd_port} (pids {pids}) did not exit")
        log.info("broker_node.epmd_stopped", port=self.epmd_port)

    def __enter__(self) -> RabbitNode:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class RabbitCluster:
    """RabbitMQ nodes on this machine joined into one cluster, so quorum queues outlive a node.

    The members share one HOME (one Erlang cookie, written before any of them boots, or each
    would make its own) and one epmd port; every member after the first joins the first.
    Membership is kept in each member's data, so a member stopped or killed on its own
    rejoins by itself when started again (`nodes[i].stop()`, `.kill()`, `.start()`).
    """

    def __init__(self, base_dir: Path, name: str = "xietong-cluster", size: int = 3) -> None:
        self.base_dir = Path(base_dir).resolve()
        home = self.base_dir / "home"
        first = RabbitNode(self.base_dir / "node1", name=f"{name}1", home=home)
        self.nodes = [first] + [
            RabbitNode(self.base_dir / f"node{n}", name=f"{name}{n}", epmd_port=first.epmd_port, home=home)
            for n in range(2, size + 1)
        ]

    @property
    def url(self) -> str:
        """Every member's AMQP URL, comma-separated: the form XIETONG_BROKER_URL takes for a cluster."""
        return ",".join(node.url for node in self.nodes)

    def start(self, timeout: float = 90) -> None:
        """Start the members side by side, then join any that is not a member yet.

        Quorum queues place their replicas on the members present when declared: start
        the cluster before anything declares them.
        """
        ensure_rabbitmq_installed()
        started = time.monotonic()
        self._write_cookie()
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(lambda node: node.start(timeout), self.nodes))
        first, members = self.nodes[0], self.running_members()
        for node in self.nodes[1:]:
            if node.node_name in members:
                continue
            log.info("broker_cluster.joining", node=node.node_name, cluster=first.node_name)
            node.ctl("stop_app")
            node.ctl("join_cluster", first.node_name)
            node.ctl("start_app")
            if not _wait_until(node._amqp_accepts, timeout):
                raise RuntimeError(f"{node.node_name} did not accept AMQP after joining; see {node.log_file}")
        log.info("broker_cluster.ready", nodes=[node.node_name for node in self.nodes], seconds=round(time.monotonic() - started, 1))

    def running_members(self) -> list[str]:
        """The members running now, as some running member sees the cluster."""
        for node in self.nodes:
            if node._beam_pids():
                return list(json.loads(node.ctl("cluster_status", "--formatter", "json"))["running_nodes"])
        return []

    def stop(self, timeout: float = 60) -> None:
        """Stop every member cleanly, side by side, then the shared epmd.

        Each member in turn waits for its name to leave the epmd: the last one ends it.
        """
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(lambda node: node._stop_vm(timeout), self.nodes))
        for node in self.nodes:
            node._stop_epmd()

    def _write_cookie(self) -> None:
        cookie = self.nodes[0].home / ".erlang.cookie"
        if cookie.exists():
            return
        cookie.parent.mkdir(parents=True, exist_ok=True)
        cookie.write_text("".join(secrets.choice(string.ascii_uppercase) for _ in range(20)))
        cookie.chmod(0o400)

    def __enter__(self) -> RabbitCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
