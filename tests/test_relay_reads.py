"""The relay's reads of the outbox, on a real SQLite file: alerts before the documents committed
earlier, each entry once."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import insert

from gateway.broker import is_live
from gateway.relay import OutboxRelay
from gateway.store import OutboxEntry, Store, utcnow


def commit(store: Store, *routing_keys: str) -> None:
    with store.write() as session:
        session.execute(
            insert(OutboxEntry),
            [{"routing_key": key, "delivery_id": f"d-{key}-{n}", "body": b"{}", "created_at": utcnow()} for n, key in enumerate(routing_keys)],
        )


def test_the_relay_reads_alerts_first_and_each_entry_once(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'xietong.db'}")
    relay = OutboxRelay(store, "amqp://guest:guest@127.0.0.1:1/%2F", 100, 0.02, (1000,))

    def read(limit: int = 100) -> list[str]:
        rows = relay._pending(limit)
        relay.cursor = max([relay.cursor, *(row.id for row in rows if not is_live(row.routing_key))])  # handed to the broker, as _publish records
        return [row.routing_key for row in rows]

    commit(store, "court", "police", "police.live")
    assert read() == ["police.live", "court", "police"]  # the alert first, and once, with the rescan due
    commit(store, *["court"] * 3)
    assert read(limit=2) == ["court", "court"]  # a full read leaves some behind: the next one reads on
    assert read() == ["court"]
