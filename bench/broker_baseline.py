"""Baseline broker: what RabbitMQ and pika reach on this machine with the gateway's own pattern
(SelectConnection, pipelined publisher confirms, a quorum queue, prefetch and manual acks), so
the gateway's delivery rate can be read as a fraction of it.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass

import pika
from pika.channel import Channel
from pika.frame import Method
from pika.spec import Basic, BasicProperties

QUEUE = "bench.baseline"
PERSISTENT = BasicProperties(delivery_mode=2, content_type="application/xml")


@dataclass
class BrokerFigures:
    messages: int
    bytes_each: int
    publish_per_s: float
    end_to_end_per_s: float  # published, confirmed, consumed and acked


def _declare(url: str) -> None:
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        channel = connection.channel()
        channel.queue_delete(QUEUE)
        channel.queue_declare(QUEUE, durable=True, arguments={"x-queue-type": "quorum"})


def _delete(url: str) -> None:
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        connection.channel().queue_delete(QUEUE)


def _publish(url: str, body: bytes, count: int, max_in_flight: int) -> float:
    """Publish `count` persistent messages with at most `max_in_flight` unconfirmed; the time the last confirm came."""
    state = {"published": 0, "confirmed": 0, "done": 0.0}
    channel_box: list[Channel] = []

    def fill() -> None:
        channel = channel_box[0]
        while state["published"] < count and state["published"] - state["confirmed"] < max_in_flight:
            channel.basic_publish("", QUEUE, body, PERSISTENT)
            state["published"] += 1

    def on_confirm(frame: Method) -> None:
        method = frame.method
        if isinstance(method, Basic.Nack):
            raise RuntimeError("the broker refused a baseline message")  # noqa: TRY004 (a nack is not a type error)
        state["confirmed"] = method.delivery_tag if method.multiple else state["confirmed"] + 1
        if state["confirmed"] >= count:
            state["done"] = time.time()
            connection.close()
        else:
            fill()

    def on_channel(channel: Channel) -> None:
        channel_box.append(channel)
        channel.confirm_delivery(on_confirm, callback=lambda _frame: fill())

    connection = pika.SelectConnection(
        pika.URLParameters(url),
        on_open_callback=lambda conn: conn.channel(on_open_callback=on_channel),
        on_close_callback=lambda conn, _reason: conn.ioloop.stop(),
    )
    connection.ioloop.start()
    return state["done"]


def _consume(url: str, count: int, prefetch: int, ready: multiprocessing.synchronize.Event, done: multiprocessing.Queue) -> None:
    """Consume `count` messages, acking each; report when the last one was acked."""
    seen = [0]

    def on_message(channel: Channel, method: Basic.Deliver, _properties: BasicProperties, _body: bytes) -> None:
        channel.basic_ack(method.delivery_tag)
        seen[0] += 1
        if seen[0] >= count:
            done.put(time.time())
            connection.close()

    def on_channel(channel: Channel) -> None:
        channel.basic_qos(prefetch_count=prefetch, callback=lambda _frame: (channel.basic_consume(QUEUE, on_message), ready.set()))

    connection = pika.SelectConnection(
        pika.URLParameters(url),
        on_open_callback=lambda conn: conn.channel(on_open_callback=on_channel),
        on_close_callback=lambda conn, _reason: conn.ioloop.stop(),
    )
    connection.ioloop.start()


def measure(url: str, body: bytes, count: int, max_in_flight: int = 1000, prefetch: int = 100) -> BrokerFigures:
    """Publisher here, consumer in its own process (as the gateway's relay and worker are), side by side."""
    _declare(url)
    context = multiprocessing.get_context("spawn")
    ready, done = context.Event(), context.Queue()
    consumer = context.Process(target=_consume, args=(url, count, prefetch, ready, done), daemon=True)
    consumer.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("the baseline consumer did not start")
        started = time.time()
        published = _publish(url, body, count, max_in_flight)
        consumed = done.get(timeout=300)
    finally:
        consumer.join(5)
        if consumer.is_alive():
            consumer.kill()
        _delete(url)
    return BrokerFigures(count, len(body), count / (published - started), count / (consumed - started))
