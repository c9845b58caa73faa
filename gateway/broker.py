"""RabbitMQ topology and connection, declared the same way by every process that touches it.

- `xietong.deliveries` (direct): one durable quorum queue per recipient adapter
  (`xietong.deliver.<adapter>`) and one for webhook pushes (`xietong.push`).
- `xietong.retry` (headers): delayed retry queues, one per delay; a message waits out its TTL
  and is dead-lettered back to `xietong.deliveries` under its original routing key.
- `xietong.dead` (fanout) → `xietong.dead`: deliveries that failed every attempt, for an
  operator to inspect and replay.
"""

from __future__ import annotations

from collections.abc import Iterable

import pika
from pika.adapters.blocking_connection import BlockingChannel

DELIVERIES = "xietong.deliveries"
RETRY = "xietong.retry"
DEAD = "xietong.dead"
PUSH = "push"
# No "x-" prefix: a headers exchange ignores binding arguments that start with "x-", so a binding
# on "x-xietong-delay" matched every message and each retry went to every retry queue at once.
DELAY_HEADER = "xietong-delay"
LEGACY_DELAY_HEADER = "x-xietong-delay"
ATTEMPT_HEADER = "x-xietong-attempt"


LIVE = ".live"  # the routing-key suffix of live kinds (alerts): a queue of their own per adapter


def routing_key_of(adapter: str, live: bool) -> str:
    """Alerts go to their adapter's live queue, so that a police station's alert never waits behind
    the backlog of documents in the adapter's queue."""
    return f"{adapter}{LIVE}" if live else adapter


def is_live(routing_key: str) -> bool:
    return routing_key.endswith(LIVE)


def queue_of(routing_key: str) -> str:
    return "xietong.push" if routing_key == PUSH else f"xietong.deliver.{routing_key}"


def connection_parameters(url: str, connection_name: str) -> list[pika.URLParameters]:
    """The configured broker: one URL, or several comma-separated (the members of a cluster).

    Every process connects through this list (a BlockingConnection tries the URLs in order, the
    relay takes the next on each reconnect), so a process whose node went away reconnects to a
    member that answers. Heartbeats catch a silent peer; the connection name tells the broker's
    connection list which process a connection belongs to.
    """
    parameters = []
    for part in url.split(","):
        params = pika.URLParameters(part.strip())
        params.heartbeat = 30
        params.blocked_connection_timeout = 60
        params.connection_attempts = 1
        params.socket_timeout = 5
        params.client_properties = {"connection_name": connection_name}
        parameters.append(params)
    return parameters


def declare_topology(channel: BlockingChannel, routing_keys: Iterable[str], delays_ms: Iterable[int]) -> None:
    channel.exchange_declare(DELIVERIES, "direct", durable=True)
    channel.exchange_declare(RETRY, "headers", durable=True)
    channel.exchange_declare(DEAD, "fanout", durable=True)
    channel.queue_declare(DEAD, durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_bind(DEAD, DEAD)
    for key in [*(routing_key_of(a, live) for a in routing_keys for live in (False, True)), PUSH]:
        queue = queue_of(key)
        channel.queue_declare(
            queue,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-dead-letter-exchange": DEAD,
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            },
        )
        channel.queue_bind(queue, DELIVERIES, routing_key=key)
    for delay in delays_ms:
        queue = f"xietong.retry.{delay}ms"
        channel.queue_declare(
            queue,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-message-ttl": delay,
                "x-dead-letter-exchange": DELIVERIES,
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            },
        )
        channel.queue_bind(queue, RETRY, arguments={"x-match": "all", DELAY_HEADER: delay})
        # the match-everything binding of earlier versions (unbinding a missing binding is a no-op)
        channel.queue_unbind(queue, RETRY, arguments={"x-match": "all", LEGACY_DELAY_HEADER: delay})
