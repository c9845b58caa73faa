"""Outbox relay: publishes committed outbox entries with pipelined publisher confirms.

Up to `relay_max_in_flight` messages are in flight at once; an entry is marked published only
after the broker's confirm. A lost connection or a nack means the unconfirmed entries are sent
again (consumers are idempotent), so nothing acknowledged to a sender is ever dropped.

Alerts have a lane of their own here too, as in the broker: each read takes the alerts committed
since the last one first, then documents in the order they were committed. Under load the outbox
holds a backlog of documents, and a police station's alert must not wait behind it.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pika
import structlog
from pika.adapters.select_connection import SelectConnection
from pika.channel import Channel
from pika.exceptions import AMQPError
from pika.spec import Basic
from sqlalchemy import and_, func, or_, select, update

from adapters.base import registry
from gateway.broker import DELIVERIES, LIVE, PUSH, connection_parameters, declare_topology, is_live
from gateway.store import Audit, Delivery, OutboxEntry, Store, utcnow

log = structlog.get_logger(__name__)

RESCAN_SECONDS = 5.0
MARK_SECONDS = 0.2
UNPUBLISHED = OutboxEntry.published_at.is_(None)
ALERT = OutboxEntry.routing_key.endswith(LIVE, autoescape=True)


class OutboxRelay:
    def __init__(self, store: Store, broker_url: str, max_in_flight: int, poll_seconds: float, retry_delays_ms: tuple[int, ...]) -> None:
        self.store = store
        self.retry_delays_ms = retry_delays_ms
        self.parameters = connection_parameters(broker_url, "xietong-relay")
        self.max_in_flight = max_in_flight
        self.poll_seconds = poll_seconds
        self.connection: SelectConnection | None = None
        self.channel: Channel | None = None
        self.in_flight: dict[int, int] = {}  # delivery tag -> outbox id
        self.confirmed: list[int] = []  # outbox ids confirmed by the broker, not yet marked published
        self.marking: set[int] = set()  # outbox ids being marked published by the marking thread
        self.marker = ThreadPoolExecutor(1, thread_name_prefix="relay-marks")
        self.cursor = 0  # highest document's outbox id handed to the broker on this connection
        self.alert_cursor = 0  # every alert up to this outbox id is handed to the broker
        self.read_up_to = -1  # the last read left nothing behind up to this outbox id
        self.commits_read: int | None = None  # `Store.commits_elsewhere` just before that read
        self.tag = 0
        self.next_rescan = 0.0
        self.failures = 0  # connection attempts since the last channel opened: the backoff grows with it
        self.stopping = False

    def run(self) -> None:
        """Connect, relay until the connection drops, reconnect; forever.

        Each new attempt takes the next of the configured broker URLs, so a relay whose
        cluster member went away carries on through another member.
        """
        attempt = 0
        while not self.stopping:
            params = self.parameters[attempt % len(self.parameters)]
            attempt += 1
            self.failures += 1
            try:
                with pika.BlockingConnection(params) as setup:
                    declare_topology(setup.channel(), registry().keys(), self.retry_delays_ms)
            except AMQPError as exc:
                log.warning("relay.connect_failed", broker=f"{params.host}:{params.port}", error=repr(exc))
            else:
                self.connection = SelectConnection(
                    params, on_open_callback=self._on_open, on_open_error_callback=self._on_open_error, on_close_callback=self._on_closed
                )
                self.connection.ioloop.start()
            if not self.stopping:
                time.sleep(min(0.2 * self.failures, 2.0))
        self.marker.shutdown(wait=True)  # the last marks, so that a clean stop publishes nothing twice

    def stop(self) -> None:
        """Safe from a signal handler: the close runs on the I/O loop between two callbacks, never in
        the middle of a publish's frames (which the broker refuses as UNEXPECTED_FRAME)."""
        self.stopping = True
        if self.connection is not None and self.connection.is_open:
            self.connection.ioloop.add_callback_threadsafe(self._close)

    def _close(self) -> None:
        self._mark_confirmed()  # what the broker confirmed is not published again after a stop
        if self.connection is not None and self.connection.is_open:
            self.connection.close()

    def _on_open(self, connection: SelectConnection) -> None:
        connection.channel(on_open_callback=self._on_channel)

    def _on_open_error(self, connection: SelectConnection, error: Exception) -> None:
        log.warning("relay.connect_failed", error=str(error))
        connection.ioloop.stop()

    def _on_closed(self, connection: SelectConnection, reason: Exception) -> None:
        if not self.stopping:
            log.warning("relay.disconnected", reason=str(reason), unconfirmed=len(self.in_flight))
        self.channel = None
        self._mark_confirmed()  # its timer was on this connection's loop, which ends here
        connection.ioloop.stop()

    def _on_channel(self, channel: Channel) -> None:
        self.channel = channel
        self.in_flight.clear()
        self.cursor, self.alert_cursor, self.read_up_to, self.tag = 0, 0, -1, 0
        channel.confirm_delivery(self._on_confirm)
        channel.add_on_close_callback(lambda _ch, reason: self._close_connection(reason))
        self.failures = 0
        params = channel.connection.params
        log.info("relay.connected", broker=f"{params.host}:{params.port}")
        self._poll()

    def _close_connection(self, reason: Exception) -> None:
        if not self.stopping:  # a stop closes the channel too: no warning for that
            log.warning("relay.channel_closed", reason=str(reason))
        if self.connection is not None and self.connection.is_open:
            self.connection.close()

    def _poll(self) -> None:
        if self.channel is None or not self.channel.is_open or self.connection is None:
            return
        room = self.max_in_flight - len(self.in_flight)
        published = 0
        try:
            if room > 0:
                for entry in self._pending(room):
                    self._publish(entry)
                    published += 1
        except Exception:
            log.exception("relay.poll_failed")
        busy = room > 0 and published == room
        self.connection.ioloop.call_later(0 if busy else self.poll_seconds, self._poll)

    def _pending(self, limit: int) -> list[OutboxEntry]:
        """The alerts committed since the last read, then new documents past the cursor, and now
        and then older entries still unconfirmed (after a nack); none whose mark is being written
        (after a reconnect, the cursors start again from the beginning). The relay polls every 20
        ms, idle or not: while nothing was committed since a read that left nothing behind, a poll
        asks the database only that (`Store.commits_elsewhere`), and when it cannot tell looks at the
        highest id."""
        rescan = time.monotonic() >= self.next_rescan
        commits = self.store.commits_elsewhere()  # before the read: a commit after it is seen next time
        if not rescan and self.read_up_to >= 0 and commits is not None and commits == self.commits_read:
            return []
        self.commits_read = commits
        alerts_read = self.alert_cursor  # before this read moves it: the rescan looks behind it
        with self.store.read() as session:
            # A later commit takes a higher id: writers take turns (SQLite's write lock, or
            # PostgreSQL's advisory lock, see store.py). Should one ever not, an entry committed
            # late below `top` waits for the rescan.
            top = session.scalar(select(func.max(OutboxEntry.id))) or 0
            if top == self.read_up_to and not rescan:
                return []
            alerts = list(
                session.scalars(
                    select(OutboxEntry)
                    .where(UNPUBLISHED, ALERT, OutboxEntry.id > self.alert_cursor, OutboxEntry.id <= top)
                    .order_by(OutboxEntry.id)
                    .limit(limit)
                )
            )
            if len(alerts) < limit:  # else the next read goes on from the last alert published
                self.alert_cursor = top
            documents = list(
                session.scalars(
                    select(OutboxEntry)
                    .where(UNPUBLISHED, ~ALERT, OutboxEntry.id > self.cursor)
                    .order_by(OutboxEntry.id)
                    .limit(limit - len(alerts))
                )
            )
            rows = alerts + documents
            if rescan:
                self.next_rescan = time.monotonic() + RESCAN_SECONDS
                flying = {*self.in_flight.values(), *self.confirmed}
                stale = session.scalars(
                    select(OutboxEntry)
                    .where(UNPUBLISHED, or_(and_(ALERT, OutboxEntry.id <= alerts_read), and_(~ALERT, OutboxEntry.id <= self.cursor)))
                    .order_by(OutboxEntry.id)
                    .limit(limit)
                )
                rows = [row for row in stale if row.id not in flying][: max(limit - len(rows), 0)] + rows
        taken = [row for row in rows if row.id not in self.marking]
        left_behind = len(alerts) + len(documents) == limit or len(taken) < len(rows)
        self.read_up_to = -1 if left_behind else top
        return taken

    def _publish(self, entry: OutboxEntry) -> None:
        assert self.channel is not None
        self.channel.basic_publish(
            DELIVERIES,
            entry.routing_key,
            entry.body,
            pika.BasicProperties(
                delivery_mode=pika.DeliveryMode.Persistent,
                content_type="application/json",
                message_id=entry.delivery_id,
            ),
        )
        self.tag += 1
        self.in_flight[self.tag] = entry.id
        if is_live(entry.routing_key):
            self.alert_cursor = max(self.alert_cursor, entry.id)
        else:
            self.cursor = max(self.cursor, entry.id)

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        tags = [t for t in self.in_flight if t <= method.delivery_tag] if method.multiple else [method.delivery_tag]
        ids = [self.in_flight.pop(t) for t in tags if t in self.in_flight]
        if isinstance(method, Basic.Ack):
            if ids and not self.confirmed and self.connection is not None:
                self.connection.ioloop.call_later(MARK_SECONDS, self._mark_confirmed)
            self.confirmed += ids
        else:
            log.warning("relay.nacked", entries=len(ids))

    def _mark_confirmed(self) -> None:
        """Every confirm read within MARK_SECONDS is marked in one write transaction: the marks only
        spare a restarted relay from publishing again, so they need not cost the store's write lock
        (which the API's acceptance waits for) once per confirm. The marking thread waits for that
        lock, not this I/O loop: while it waited here (p99 170 ms under load), no alert was published.

        Should the relay stop before the marks are written, its entries are simply published again
        on the next start (consumers are idempotent)."""
        ids, self.confirmed = self.confirmed, []
        if ids:
            self.marking.update(ids)
            self.marker.submit(self._mark, ids)

    def _mark(self, ids: list[int]) -> None:
        try:
            self._mark_published(ids)
        except Exception:
            log.exception("relay.mark_failed", entries=len(ids))
        finally:
            self.marking.difference_update(ids)

    def _mark_published(self, ids: list[int]) -> None:
        now = utcnow()
        with self.store.write() as session:
            delivery_ids = list(
                session.scalars(
                    select(OutboxEntry.delivery_id).where(
                        OutboxEntry.id.in_(ids), OutboxEntry.routing_key != PUSH, OutboxEntry.published_at.is_(None)
                    )
                )
            )
            plain = {"synchronize_session": False}  # nothing of these rows is loaded in the session
            session.execute(update(OutboxEntry).where(OutboxEntry.id.in_(ids)).values(published_at=now), execution_options=plain)
            session.execute(
                update(Delivery)
                .where(Delivery.delivery_id.in_(delivery_ids), Delivery.published_at.is_(None))
                .values(published_at=now),
                execution_options=plain,
            )
            if delivery_ids:
                Audit(session).append("relay", "delivery.published", None, deliveries=delivery_ids)
        log.debug("relay.confirmed", entries=len(ids))
