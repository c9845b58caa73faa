"""A private node keeps confirmed messages in a quorum queue across a clean stop and a crash."""

from __future__ import annotations

from pathlib import Path

import pika
import pytest

from gateway.broker_node import RabbitNode

QUEUE = "broker-node-test"


def _publish_confirmed(url: str, body: bytes) -> None:
    """Declare the durable quorum queue and publish one persistent, broker-confirmed message."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.queue_declare(QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
        channel.confirm_delivery()
        channel.basic_publish(
            exchange="",
            routing_key=QUEUE,
            body=body,
            properties=pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent),
            mandatory=True,
        )
    finally:
        connection.close()


def _consume_one(url: str) -> bytes | None:
    """Take and ack the next message of the queue, None if it is empty."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        method, _properties, body = channel.basic_get(QUEUE, auto_ack=False)
        if method is None:
            return None
        channel.basic_ack(method.delivery_tag)
        return body
    finally:
        connection.close()


def processes_of(base_dir: Path, epmd_port: int) -> list[str]:
    """Live processes started for the node: they inherit HOME (under base_dir) or its epmd port."""
    found = []
    markers = (str(base_dir).encode(), f"ERL_EPMD_PORT={epmd_port}".encode())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[0] != "Z" and any(marker in environ for marker in markers):
            found.append(f"{entry.name} {(entry / 'comm').read_text().strip()}")
    return found


@pytest.mark.broker
@pytest.mark.timeout(120)
def test_quorum_message_survives_stop_and_kill(tmp_path: Path) -> None:
    base_dir = tmp_path / "rabbit"
    first = RabbitNode(base_dir)
    with first:
        assert first.is_running()
        _publish_confirmed(first.url, b"survives a clean stop")
    assert not first.is_running()

    node = RabbitNode(base_dir)
    assert (node.url, node.node_name, node.epmd_port) == (first.url, first.node_name, first.epmd_port)
    node.start()
    try:
        assert _consume_one(node.url) == b"survives a clean stop"
        assert _consume_one(node.url) is None
        _publish_confirmed(node.url, b"survives a crash")
        node.kill()
        assert not node.is_running()
        assert processes_of(node.base_dir, node.epmd_port) == []
        node.start()
        assert _consume_one(node.url) == b"survives a crash"
    finally:
        node.stop()
    assert not node.is_running()
    assert processes_of(node.base_dir, node.epmd_port) == []
