"""Group commit (`Store.write_together`): threads that write at the same time share one
transaction, each in its own savepoint, on a real SQLite file."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.chain import verify_chain
from gateway.store import Audit, AuditEntry, Division, Store


def add_division(code: str, started: threading.Barrier | None = None):
    def work(session: Session) -> str:
        session.execute(insert(Division.__table__), {"code": code, "name": f"区划{code}"})
        Audit(session).append("tester", "division.added", code)
        return code

    return work


def test_concurrent_writers_commit_together_and_a_failing_one_takes_nothing_else(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'together.db'}")
    store.write_together(add_division("370000"))
    codes = [f"3716{n:02d}" for n in range(40)] + ["370000"]  # the last one exists already
    blocker = threading.Event()

    def hold_the_committer(session: Session) -> None:
        blocker.wait(5)  # while this commits, the others queue up and then share one transaction

    with ThreadPoolExecutor(len(codes) + 1) as pool:
        first = pool.submit(store.write_together, hold_the_committer)
        futures = {code: pool.submit(store.write_together, add_division(code)) for code in codes}
        blocker.set()
        first.result()
        outcomes = {}
        for code, future in futures.items():
            try:
                outcomes[code] = future.result()
            except IntegrityError:
                outcomes[code] = "duplicate"
    assert outcomes == {**{code: code for code in codes[:-1]}, "370000": "duplicate"}
    with store.read() as session:
        assert set(session.scalars(select(Division.code))) == {"370000", *codes[:-1]}
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 1 + 40
    assert verify_chain(store, []).intact


def test_a_failed_commit_is_reported_to_every_writer_of_the_batch(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'together.db'}")
    store.write_together(add_division("370000"))

    def defer_the_foreign_key(session: Session) -> None:
        session.connection().exec_driver_sql("PRAGMA defer_foreign_keys=ON")

    def dangling(session: Session) -> None:
        session.connection().exec_driver_sql(
            "INSERT INTO message_documents (message_id, sha256) VALUES ('no-such-message', 'no-such-document')"
        )

    with pytest.raises(IntegrityError):  # the deferred foreign key fails at COMMIT
        store.write_together(lambda session: (defer_the_foreign_key(session), dangling(session)))
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(Division)) == 1
