"""The relay's reads of the outbox, on a real SQLite file (and a PostgreSQL cluster): alerts before the documents committed
earlier, and while nothing new is committed, no query (or, should SQLite not tell, one look at
the highest id); and its clean stop."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import event, insert

from gateway.broker_node import RabbitNode
from gateway.relay import OutboxRelay
from gateway.store import OutboxEntry, Store, utcnow
from tests.conftest import gateway_in_vhost


def commit(store: Store, *routing_keys: str) -> None:
    with store.write() as session:
        session.execute(
            insert(OutboxEntry),
            [{"routing_key": key, "delivery_id": f"d-{key}-{n}", "body": b"{}", "created_at": utcnow()} for n, key in enumerate(routing_keys)],
        )


class Channel:
    """Where the relay publishes: here, nowhere."""

    is_open = True

    def basic_publish(self, *_args: object, **_kwargs: object) -> None:
        return None


def relay_on(store: Store) -> OutboxRelay:
    """A relay on `store` whose channel publishes nowhere, as if connected."""
    relay = OutboxRelay(store, "amqp://guest:guest@127.0.0.1:1/%2F", 100, 0.02, (1000,))
    relay.channel = Channel()  # type: ignore[assignment]
    return relay


@pytest.mark.parametrize("database", ["sqlite", "sqlite-cannot-tell", "postgresql"])
def test_an_idle_relay_reads_nothing_and_still_sees_the_next_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, database: str) -> None:
    """An idle poll costs no query while the database says nothing was committed since the last
    read (`Store.commits_elsewhere`: SQLite's data version, PostgreSQL's notifications); when it
    cannot tell, one look at the highest id. The next commit is seen at once, or on PostgreSQL,
    whose notification may come a moment after the commit, at a poll soon after."""
    if database == "postgresql":
        store = Store(request.getfixturevalue("postgres").database(f"relay_{tmp_path.name.lower()}"))
    else:
        store = Store(f"sqlite:///{tmp_path / 'xietong.db'}")
    tells = database != "sqlite-cannot-tell"
    if not tells:
        monkeypatch.setattr(store, "commits_elsewhere", lambda: None)
    relay = relay_on(store)
    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    def read(limit: int = 100) -> list[str]:
        statements.clear()
        rows = relay._pending(limit)
        for row in rows:
            relay._publish(row)
        return [row.routing_key for row in rows]

    def read_soon(limit: int = 100) -> list[str]:
        """The relay's polls, 20 ms apart, until one finds something (a second at most)."""
        deadline = time.monotonic() + 1
        while not (found := read(limit)) and time.monotonic() < deadline:
            time.sleep(0.02)
        return found

    commit(store, "court", "police", "police.live")
    assert read() == ["police.live", "court", "police"]  # the alert first
    relay.next_rescan = float("inf")
    assert read() == []
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == (0 if tells else 1)  # else the highest id
    commit(store, "procuratorate")
    assert read_soon() == ["procuratorate"]
    assert read(limit=1) == [] and read() == []
    commit(store, *["court"] * 3)
    assert read_soon(limit=2) == ["court", "court"]  # a full read leaves some behind: the next one reads on
    assert read() == ["court"]
    store.engine.dispose()


def test_an_entry_whose_mark_was_under_way_is_read_again_when_it_stays_unpublished(tmp_path: Path) -> None:
    """After a reconnect an entry may still be being marked; should the mark fail, the next read
    takes it, however quiet the outbox is."""
    store = Store(f"sqlite:///{tmp_path / 'xietong.db'}")
    relay = relay_on(store)
    relay.next_rescan = float("inf")
    commit(store, "court")
    relay.marking.add(1)
    assert relay._pending(100) == []
    relay.marking.clear()  # the mark failed: the entry is still unpublished
    assert [row.routing_key for row in relay._pending(100)] == ["court"]


@pytest.mark.broker
def test_a_relay_stopped_cleanly_logs_no_warning(rabbit: RabbitNode, tmp_path: Path) -> None:
    """A warning in the relay's log means something to look into; its own clean stop is not that."""
    with gateway_in_vhost(rabbit, tmp_path, "xietong-relay-stop", roles="api") as gateway:
        relay = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "relay"], env=gateway.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        assert relay.stderr is not None
        logged = []
        for line in relay.stderr:  # until it has connected and is polling
            logged.append(line)
            if "relay.connected" in line:
                break
        relay.terminate()
        logged += relay.communicate(timeout=30)[1].splitlines()
    assert relay.returncode == 0
    assert any("relay.connected" in line for line in logged)
    assert [line for line in logged if '"level": "warning"' in line] == []
