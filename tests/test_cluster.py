"""A three-node RabbitMQ cluster loses a node during a load: nothing is lost, nothing doubled,
and the relay and the worker move to a live member by themselves."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.broker_node import RabbitCluster, RabbitNode
from gateway.store import AuditEntry, Delivery
from tests.conftest import RunningGateway, prepare_gateway
from tests.test_broker_node import processes_of
from tests.test_handover_flow import COURT, COURT_SAMPLES, wait_delivered
from tests.test_process_kill import role_pid, submit_until_acknowledged

pytestmark = [pytest.mark.broker, pytest.mark.timeout(180)]

PACE_SECONDS = 0.05  # about 20 submissions a second: the load spans both faults
LOAD_BETWEEN_FAULTS = 30  # submissions acknowledged before a fault, and again after it
GATEWAY_CONNECTIONS = ("xietong-relay", "xietong-worker")


def gateway_connections(cluster: RabbitCluster, via: RabbitNode) -> dict[str, RabbitNode]:
    """The member each of the gateway's connections is on, as the running member `via` lists them."""
    by_port = {node.amqp_port: node for node in cluster.nodes}
    found = {}
    for connection in json.loads(via.ctl("list_connections", "port", "client_properties", "--formatter", "json")):
        name = next((value for key, _type, value in connection["client_properties"] if key == "connection_name"), None)
        if name in GATEWAY_CONNECTIONS:
            found[name] = by_port[connection["port"]]
    return found


def wait_connected(cluster: RabbitCluster, gone: RabbitNode | None = None, timeout: float = 30) -> dict[str, RabbitNode]:
    """Wait until the relay and the worker both hold a connection to a member other than `gone`."""
    via = next(node for node in cluster.nodes if node is not gone)
    deadline = time.monotonic() + timeout
    found: dict[str, RabbitNode] = {}
    while True:
        try:
            found = gateway_connections(cluster, via)
        except RuntimeError:  # right after a member went away, listing may fail until all have seen it go
            pass
        else:
            if set(found) == set(GATEWAY_CONNECTIONS) and gone not in found.values():
                return found
        assert time.monotonic() < deadline, f"the gateway did not reconnect: {found}"
        time.sleep(0.5)


def gateway_queues(node: RabbitNode) -> dict[str, dict[str, object]]:
    """The gateway's queues with their leader and members."""
    rows = json.loads(node.ctl("list_queues", "name", "leader", "members", "--formatter", "json"))
    return {row["name"]: row for row in rows if row["name"].startswith("xietong.")}


def test_losing_a_member_during_a_load_loses_and_doubles_nothing(tmp_path: Path) -> None:
    cluster = RabbitCluster(tmp_path / "rabbit", name="xietong-cluster")
    gateway: RunningGateway | None = None
    try:
        cluster.start()
        gateway = prepare_gateway(tmp_path / "gateway", cluster.url)
        gateway.start()
        assert gateway.process is not None
        roles = {role: role_pid(gateway.process.pid, role) for role in ("api", "relay", "worker")}
        first = wait_connected(cluster)
        queues = gateway_queues(cluster.nodes[0])
        assert queues and all(len(queue["members"]) == 3 for queue in queues.values()), queues

        sample = (COURT_SAMPLES / "handover.judgment_effective.xml").read_bytes()
        acknowledged: list[str] = []
        enough = threading.Event()

        def load() -> None:
            with gateway.client(COURT) as court:
                while not enough.is_set():
                    acknowledged.append(submit_until_acknowledged(court, sample + f"<!-- cluster {len(acknowledged)} -->".encode()))
                    time.sleep(PACE_SECONDS)

        def wait_for_more_load(than: int) -> None:
            deadline = time.monotonic() + 60
            while len(acknowledged) < than + LOAD_BETWEEN_FAULTS:
                assert sender.is_alive() and time.monotonic() < deadline, "the load stalled"
                time.sleep(0.1)

        sender = threading.Thread(target=load)
        sender.start()
        try:
            # A clean stop of the member the gateway is connected to, which leads the queues.
            wait_for_more_load(0)
            stopped = first["xietong-relay"]
            assert stopped is first["xietong-worker"]
            assert any(queue["leader"] == stopped.node_name for queue in queues.values()), queues
            stopped.stop()
            at_stop = len(acknowledged)
            second = wait_connected(cluster, gone=stopped)
            wait_for_more_load(at_stop)
            stopped.start()

            # Then a crash of the member the relay moved to.
            killed = second["xietong-relay"]
            killed.kill()
            at_kill = len(acknowledged)
            wait_connected(cluster, gone=killed)
            wait_for_more_load(at_kill)
        finally:
            enough.set()
            sender.join(60)
        assert not sender.is_alive()
        rejoin = threading.Thread(target=killed.start)  # in the meantime: it takes a few seconds
        rejoin.start()

        assert len(set(acknowledged)) == len(acknowledged)
        with gateway.client(COURT) as court:
            statuses = [wait_delivered(court, message_id, timeout=60) for message_id in acknowledged]
        assert all(status["status"] == "delivered" for status in statuses)
        recipients = {delivery["recipient"] for status in statuses for delivery in status["deliveries"]}
        assert len(recipients) == 3

        store = gateway.store()
        with store.read() as session:
            deliveries = session.scalar(select(func.count()).select_from(Delivery).where(Delivery.message_id.in_(acknowledged)))
            delivered = Counter(session.scalars(select(AuditEntry.subject).where(AuditEntry.event == "delivery.delivered")))
        store.engine.dispose()
        assert deliveries == len(acknowledged) * 3
        assert len(delivered) == deliveries and set(delivered.values()) == {1}, "a delivery was rendered twice"
        for recipient in recipients:
            with gateway.client(recipient) as client:
                inbox = client.get("/v1/inbox", params={"limit": 1000}).json()
            assert sorted(item["message_id"] for item in inbox) == sorted(acknowledged)

        rejoin.join(90)
        assert sorted(cluster.running_members()) == sorted(node.node_name for node in cluster.nodes)
        # The relay and the worker reconnected by themselves: no process of the gateway was restarted.
        assert {role: role_pid(gateway.process.pid, role) for role in roles} == roles
        assert "supervisor.role_exited" not in (gateway.data_dir / "gateway.log").read_text()
    finally:
        if gateway is not None:
            gateway.stop()
        cluster.stop()
    deadline = time.monotonic() + 10  # helpers of a VM may outlive it by a moment
    while (left := processes_of(cluster.base_dir, cluster.nodes[0].epmd_port)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == []
