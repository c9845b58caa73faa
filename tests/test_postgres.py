"""The design's store "at scale": the same gateway on PostgreSQL, by settings alone.

The foundation flow's, the live stream's and the kill test's tests run here again against a
gateway whose store is a private PostgreSQL cluster; the test below them presses what SQLite
never let happen: writers in several processes and threads at once, whose audit entries must
still form one chain."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from gateway import store as store_module
from gateway.broker_node import RabbitNode
from gateway.cli import role_pids
from gateway.store import Audit, AuditEntry, Delivery, OutboxEntry, Store, StoredMessage
from tests.conftest import PostgresNode, RunningGateway, gateway_in_vhost
from tests.flows import COURT, JUSTICE_BUREAU, fence_breach, sample, submit, wait_delivered
from tests.test_handover_flow import (  # noqa: F401  (collected here, on this module's gateway)
    test_a_gb18030_document_keeps_its_chinese_text_exactly_in_every_format,
    test_a_unit_reads_only_its_own_inbox_and_messages,
    test_bad_documents_are_refused_precisely_and_leave_only_an_audit_entry,
    test_court_handover_reaches_every_party_in_its_own_format,
    test_duplicate_submission_is_idempotent,
    test_enrollment_reaches_office_station_and_grid_with_the_grid_seeing_only_its_projection,
    test_receipt_returns_to_the_court_in_court_xml,
)
from tests.test_live import (  # noqa: F401
    test_a_reconnecting_station_resumes_after_its_last_event,
    test_a_station_sees_an_alert_for_its_jurisdiction_in_its_own_xml,
)
from tests.test_process_kill import test_kill_each_process_in_turn_during_load  # noqa: F401

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def gateway(rabbit: RabbitNode, postgres: PostgresNode, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    with gateway_in_vhost(rabbit, tmp_path_factory.mktemp("pg-gateway"), "xietong-postgres", database_url=postgres.database("gateway")) as running:
        yield running


@pytest.fixture(scope="module")
def own_gateway(rabbit: RabbitNode, postgres: PostgresNode, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """The kill test's gateway: one of its own, since it kills its processes."""
    with gateway_in_vhost(rabbit, tmp_path_factory.mktemp("pg-kill"), "xietong-postgres-kill", database_url=postgres.database("kill")) as running:
        yield running


DOCUMENTS, ALERTS, SENDERS = 120, 40, 8


def _document(n: int) -> tuple[str, bytes]:
    return COURT, sample("court", "handover.judgment_effective.xml") + f"<!-- pg {n} -->".encode()


def _alert(n: int) -> tuple[str, bytes]:
    return JUSTICE_BUREAU, fence_breach(f"2025-06-01T08:{n // 60:02d}:{n % 60:02d}+08:00")


def test_writers_in_every_process_at_once_leave_one_audit_chain_and_every_delivery_once(gateway: RunningGateway) -> None:
    """Documents and alerts from eight senders at once: the API's two committers, the relay's
    marks and the worker's placements all write meanwhile. On SQLite they queue for one file;
    here each transaction must still find the chain's true head."""
    submissions = [_document(n) for n in range(DOCUMENTS)] + [_alert(n) for n in range(ALERTS)]

    def send(submission: tuple[str, bytes]) -> tuple[str, str]:
        unit, body = submission
        response = submit(gateway, unit, "court" if unit == COURT else "canonical", body)
        assert response.status_code == 202, response.text
        return unit, str(response.json()["message_id"])

    with ThreadPoolExecutor(SENDERS) as senders:
        sent = list(senders.map(send, submissions[::2] + submissions[1::2]))
    message_ids = [message_id for _unit, message_id in sent]
    assert len(set(message_ids)) == DOCUMENTS + ALERTS

    for unit, message_id in sent:  # each sender follows its own messages
        with gateway.client(unit) as sender:
            assert wait_delivered(sender, message_id, timeout=60)["status"] == "delivered"
    store = gateway.store()
    with store.read() as session:
        ours = select(Delivery.delivery_id).where(Delivery.message_id.in_(message_ids))
        deliveries = session.scalar(select(func.count()).select_from(ours.subquery()))
        delivered = session.scalar(select(func.count()).where(AuditEntry.event == "delivery.delivered", AuditEntry.subject.in_(ours)))
    store.engine.dispose()
    assert deliveries and delivered == deliveries

    verify = subprocess.run([sys.executable, "-m", "gateway.cli", "audit", "verify"], env=gateway.env, capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0 and "审计日志完整" in verify.stdout, verify.stdout + verify.stderr


def test_a_writer_that_stalls_holding_the_lock_is_ended_and_the_others_write(postgres: PostgresNode, monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer that stops mid-transaction (its host gone, say) holds the writers' lock: the server
    ends it once idle for WRITER_IDLE_MS, rather than when keepalives find it dead hours later,
    and the next writer goes on."""
    monkeypatch.setattr(store_module, "WRITER_IDLE_MS", 500)
    store = Store(postgres.database("stalled"))
    stalled: list[BaseException] = []

    def stall() -> None:
        try:
            with store.write() as session:
                Audit(session).append("test", "stalled.began")
                time.sleep(3)
        except Exception as exc:  # the server ended the transaction
            stalled.append(exc)

    holder = threading.Thread(target=stall)
    holder.start()
    time.sleep(0.2)
    began = time.monotonic()
    with store.write() as session:
        Audit(session).append("test", "next.wrote")
    waited = time.monotonic() - began
    holder.join()
    with store.read() as session:
        events = list(session.scalars(select(AuditEntry.event).order_by(AuditEntry.id)))
    store.engine.dispose()
    assert waited < 2, f"the next writer waited {waited:.1f} s for a stalled one"
    assert len(stalled) == 1 and isinstance(stalled[0], DBAPIError) and "idle-in-transaction" in str(stalled[0]), stalled
    assert events == ["next.wrote"]  # nothing of the stalled transaction


def test_while_the_database_is_down_a_submission_is_told_to_come_again_and_then_accepted(
    rabbit: RabbitNode, tmp_path: Path
) -> None:
    """The database restarts (an upgrade, a failover): meanwhile a court's submission is answered
    503 `store_unavailable` with Retry-After, a clerk's message and nothing written; sent again
    once the database is back, it is accepted, once."""
    database = PostgresNode()
    database.start()
    try:
        with gateway_in_vhost(rabbit, tmp_path / "gateway", "xietong-postgres-down", roles="api", database_url=database.database("down")) as running:
            _unit, document = _document(0)
            database.halt()
            refused = submit(running, COURT, "court", document)
            database.start()
            accepted = submit(running, COURT, "court", document)
            again = submit(running, COURT, "court", document)
            store = running.store()
            with store.read() as session:
                messages = session.scalar(select(func.count()).select_from(StoredMessage))
            store.engine.dispose()
    finally:
        database.stop()
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "store_unavailable" and "数据存储暂时不可用" in refused.json()["error"]["message"]
    assert int(refused.headers["Retry-After"]) > 0
    assert accepted.status_code == 202, accepted.text
    assert again.status_code == 202 and again.json()["duplicate"] and again.json()["message_id"] == accepted.json()["message_id"]
    assert messages == 1


@pytest.mark.parametrize("outage", ["down", "refusing_writes"])
def test_deliveries_the_worker_meets_while_the_store_is_unavailable_wait_for_it_and_none_is_parked(rabbit: RabbitNode, tmp_path: Path, outage: str) -> None:
    """The store goes away (the database down), or takes no writes (here a writer holds the lock
    past every other's lock_timeout; a full disk does the same), while deliveries sit on the
    broker: the worker holds them and places each once the store is back. Counted as failures of
    the deliveries, they had been retried and parked in the dead-letter queue (here after two
    attempts 0.1 s apart)."""
    database = PostgresNode()
    database.start()
    try:
        quick_to_park = {"XIETONG_DELIVERY_ATTEMPTS": "2", "XIETONG_RETRY_DELAYS_MS": "[100]"}
        url = database.database("wait")
        with create_engine(url, isolation_level="AUTOCOMMIT").connect() as admin:
            admin.exec_driver_sql("ALTER DATABASE wait SET lock_timeout = '100ms'")
        with gateway_in_vhost(rabbit, tmp_path / "gateway", f"xietong-postgres-{outage}", extra_env=quick_to_park, database_url=url) as running:
            assert running.process is not None
            worker = role_pids(running.process.pid)["worker"]
            os.kill(worker, signal.SIGSTOP)  # the deliveries wait on the broker meanwhile
            holder = create_engine(url, poolclass=NullPool).connect()  # its close ends the session, and the session's lock
            try:
                message_ids = []
                for n in range(5):
                    response = submit(running, COURT, "court", _document(1000 + n)[1])
                    assert response.status_code == 202, response.text
                    message_ids.append(response.json()["message_id"])
                store = running.store()
                deadline = time.monotonic() + 30
                while _unpublished(store) and time.monotonic() < deadline:
                    time.sleep(0.1)
                assert not _unpublished(store), "the relay did not publish the deliveries"
                store.engine.dispose()
                if outage == "down":
                    database.halt()
                else:
                    holder.exec_driver_sql(f"SELECT pg_advisory_lock({store_module.WRITERS_LOCK})")
            finally:
                os.kill(worker, signal.SIGCONT)
            time.sleep(10 if outage == "refusing_writes" else 3)  # the worker meets the store unavailable (long enough for 15 deliveries to fail twice)
            if outage == "down":
                database.start()
            else:
                holder.close()
            deadline = time.monotonic() + 30  # for all of them: a parked one never comes
            with running.client(COURT) as court:
                statuses = [wait_delivered(court, message_id, timeout=max(0.1, deadline - time.monotonic()))["status"] for message_id in message_ids]
            store = running.store()
            with store.read() as session:
                parked = session.scalar(select(func.count()).where(AuditEntry.event == "delivery.dead_lettered"))
            store.engine.dispose()
    finally:
        database.stop()
    assert statuses == ["delivered"] * len(message_ids)
    assert parked == 0


def _unpublished(store: Store) -> int:
    with store.read() as session:
        return session.scalar(select(func.count()).select_from(OutboxEntry).where(OutboxEntry.published_at.is_(None))) or 0


def test_a_commit_watch_that_hears_nothing_is_trusted_only_a_while(postgres: PostgresNode, monkeypatch: pytest.MonkeyPatch) -> None:
    """The relay and the live hub skip their read while `commits_elsewhere` is unchanged. On
    PostgreSQL that is a LISTEN connection, which, gone half-open, would hear nothing for ever:
    past SILENCE_TRUSTED_SECONDS of silence the number changes all the same, and they read."""
    monkeypatch.setattr(store_module, "SILENCE_TRUSTED_SECONDS", 0.5)
    store = Store(postgres.database("silence"))
    first = store.commits_elsewhere()
    assert first is not None and store.commits_elsewhere() == first  # nothing committed: nothing to read
    with store.write() as session:
        Audit(session).append("test", "committed")
    deadline = time.monotonic() + 0.4
    while store.commits_elsewhere() == first and time.monotonic() < deadline:
        time.sleep(0.02)
    heard = store.commits_elsewhere()
    assert heard != first  # a commit is heard at once
    time.sleep(0.6)
    assert store.commits_elsewhere() != heard  # silence past the trust: read anyway
    store.engine.dispose()
