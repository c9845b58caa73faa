"""Group commit (`Store.hand_in`): threads that write at the same time share one
transaction on a real SQLite file; an item its writer refuses is refused alone, and a batch whose
transaction fails is written again item by item, so one bad item takes nothing else with it."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import event, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from structlog.testing import capture_logs

from gateway.chain import verify_chain
from gateway.store import MOST_WAITING, Audit, AuditEntry, Division, Store, WriteLock


class Taken(Exception):
    """The division code is stored already."""


class Divisions:
    """A batch writer of divisions that counts its batches."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.codes: list[list[str]] = []  # what each batch wrote, in order
        self.blocker: threading.Event | None = None

    def write(self, session: Session, codes: list[str]) -> list[Exception | None]:
        if self.blocker is not None:  # the first batch waits, so that the others queue up behind it
            self.blocker.wait(5)
            self.blocker = None
        self.batches.append(len(codes))
        self.codes.append(codes)
        stored = set(session.scalars(select(Division.code).where(Division.code.in_(codes))))
        fresh = [c for c in codes if c not in stored]
        if fresh:
            session.connection().execute(insert(Division.__table__), [{"code": c, "name": f"区划{c}"} for c in fresh])
            Audit(session).append_many([("tester", "division.added", c, {}) for c in fresh])
        return [Taken(c) if c in stored else None for c in codes]


def outcome(store: Store, writer: Divisions, code: str) -> str:
    try:
        store.hand_in(code, writer.write).result()
    except Taken:
        return "taken"
    return "stored"


def test_concurrent_writers_commit_together_and_a_refused_item_takes_nothing_else(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'together.db'}")
    writer = Divisions()
    assert outcome(store, writer, "370000") == "stored"
    codes = [f"3716{n:02d}" for n in range(40)] + ["370000"]  # the last one is stored already
    writer.blocker = threading.Event()
    with ThreadPoolExecutor(len(codes) + 1) as pool:
        first = pool.submit(outcome, store, writer, "371700")
        futures = {code: pool.submit(outcome, store, writer, code) for code in codes}
        writer.blocker.set()
        assert first.result() == "stored"
        outcomes = {code: future.result() for code, future in futures.items()}
    assert outcomes == {**{code: "stored" for code in codes[:-1]}, "370000": "taken"}
    assert len(writer.batches) < len(codes)  # they shared transactions
    with store.read() as session:
        assert set(session.scalars(select(Division.code))) == {"370000", "371700", *codes[:-1]}
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 2 + 40
    assert verify_chain(store, []).intact


def test_a_failed_shared_transaction_is_written_again_item_by_item(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'together.db'}")
    inside, go = threading.Event(), threading.Event()

    def dangling_or_division(session: Session, items: list[str]) -> list[Exception | None]:
        if items == ["first"]:  # holds the committer while the others queue up behind it
            inside.set()
            go.wait(5)
            return [None]
        connection = session.connection()
        connection.exec_driver_sql("PRAGMA defer_foreign_keys=ON")  # the dangling row fails at COMMIT
        for item in items:
            if item == "dangling":
                connection.exec_driver_sql("INSERT INTO message_documents (message_id, sha256) VALUES ('no-such-message', 'no-such-document')")
            else:
                connection.execute(insert(Division.__table__), {"code": item, "name": "滨州市"})
        return [None] * len(items)

    def write(item: str) -> str:
        try:
            store.hand_in(item, dangling_or_division).result()
        except IntegrityError:
            return "refused"
        return "stored"

    with capture_logs() as logs, ThreadPoolExecutor(3) as pool:
        first = pool.submit(write, "first")
        assert inside.wait(5)
        others = {item: pool.submit(write, item) for item in ("dangling", "371600")}
        deadline = time.monotonic() + 5
        while len(store._waiting[False]) < 2 and time.monotonic() < deadline:  # both wait for one shared batch
            time.sleep(0.01)
        go.set()
        results = {item: future.result() for item, future in others.items()}
        assert first.result() == "stored"
    assert results == {"dangling": "refused", "371600": "stored"}
    assert [e["items"] for e in logs if e["event"] == "store.batch_failed"] == [2]  # shared, failed, then split
    with store.read() as session:
        assert list(session.scalars(select(Division.code))) == ["371600"]


def test_a_single_failing_item_gets_its_own_error(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'together.db'}")

    def duplicate(session: Session, codes: list[str]) -> list[Exception | None]:
        session.connection().execute(insert(Division.__table__), [{"code": c, "name": "x"} for c in codes + codes])
        return [None] * len(codes)

    with pytest.raises(IntegrityError):
        store.hand_in("371600", duplicate).result()
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(Division)) == 0


def taken(store: Store, urgent: bool) -> None:
    """Wait until the committer has taken what was handed in into its next batch."""
    deadline = time.monotonic() + 5
    while store._waiting[urgent] and time.monotonic() < deadline:
        time.sleep(0.01)


def committer_held(store: Store, writer: Divisions, code: str) -> Future[None]:
    """`code` handed in alone, with the committer held inside its batch until `writer.blocker` is set."""
    writer.blocker = threading.Event()
    first = store.hand_in(code, writer.write)
    taken(store, urgent=False)
    return first


def test_the_thread_that_hands_an_item_in_goes_on_while_it_commits(tmp_path: Path) -> None:
    """The API's few preparing threads hand their rows in and prepare the next submission; the
    future says when the rows are stored, or why not."""
    store = Store(f"sqlite:///{tmp_path / 'together.db'}")
    writer = Divisions()
    assert outcome(store, writer, "370000") == "stored"
    first = committer_held(store, writer, "371600")
    second, taken = store.hand_in("371700", writer.write), store.hand_in("370000", writer.write)
    assert not first.done() and not second.done() and not taken.done()
    writer.blocker.set()
    assert first.result(5) is None and second.result(5) is None
    with pytest.raises(Taken):
        taken.result(5)
    assert writer.batches == [1, 1, 2]  # the two handed in meanwhile shared the next transaction
    with store.read() as session:
        assert set(session.scalars(select(Division.code))) == {"370000", "371600", "371700"}


def test_a_thread_too_far_ahead_of_the_committer_is_held_back_until_the_next_transaction_starts(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'together.db'}")
    writer = Divisions()
    first = committer_held(store, writer, "370000")
    queued = [store.hand_in(f"3716{n:02d}", writer.write) for n in range(MOST_WAITING)]
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(store.hand_in, "371700", writer.write)
        time.sleep(0.1)
        assert not held.done(), "no room for it in the next transaction"
        urgent = store.hand_in("371800", writer.write, urgent=True)  # an alert: never held back
        writer.blocker.set()
        assert urgent.result(5) is None
        assert held.result(5).result(5) is None
    assert all(f.result(5) is None for f in [first, *queued])
    assert writer.batches[:3] == [1, 1, MOST_WAITING]  # the alert went ahead; the held one waited for the next


def test_an_alert_handed_in_with_documents_is_written_ahead_of_them_in_a_transaction_of_its_own(tmp_path: Path) -> None:
    """A police station's alert does not wait while a dozen documents are written with it."""
    store = Store(f"sqlite:///{tmp_path / 'together.db'}")
    writer = Divisions()
    first = committer_held(store, writer, "370000")
    documents = [store.hand_in(code, writer.write) for code in ("371600", "371700")]
    alert = store.hand_in("371800", writer.write, urgent=True)
    writer.blocker.set()
    assert all(f.result(5) is None for f in [first, alert, *documents])
    assert writer.codes == [["370000"], ["371800"], ["371600", "371700"]]


def test_an_alert_is_written_before_the_documents_whose_transaction_waits_for_the_write_lock(tmp_path: Path) -> None:
    """Another process holds the write lock; documents handed in wait for it, then an alert: the
    alert has a committer of its own, and its transaction takes the lock first."""
    store = Store(f"sqlite:///{tmp_path / 'together.db'}")
    writer = Divisions()
    assert outcome(store, writer, "370000") == "stored"
    assert store.write_lock is not None
    with WriteLock(store.write_lock.path).held():
        document = store.hand_in("371600", writer.write)
        taken(store, urgent=False)  # its transaction waits for the lock
        alert = store.hand_in("371800", writer.write, urgent=True)
        taken(store, urgent=True)
        time.sleep(0.05)
    assert document.result(5) is None and alert.result(5) is None
    assert writer.codes[1:] == [["371800"], ["371600"]]


def test_a_caller_that_stops_waiting_changes_nothing_for_its_item_or_the_others(tmp_path: Path) -> None:
    """The API's request gives up (its client left): the item is written all the same, and the
    items of the same transaction are answered as usual."""
    store = Store(f"sqlite:///{tmp_path / 'together.db'}")
    writer = Divisions()
    first = committer_held(store, writer, "370000")
    abandoned, other = store.hand_in("371600", writer.write), store.hand_in("371700", writer.write)
    assert not abandoned.cancel(), "handed in is under way"
    writer.blocker.set()
    assert first.result(5) is None and abandoned.result(5) is None and other.result(5) is None
    assert store.hand_in("371800", writer.write).result(5) is None
    with store.read() as session:
        assert set(session.scalars(select(Division.code))) == {"370000", "371600", "371700", "371800"}


@pytest.mark.parametrize("snapshot", [True, False])
def test_a_read_without_snapshot_costs_no_begin_and_each_statement_sees_the_latest_commit(tmp_path: Path, snapshot: bool) -> None:
    """A read session sees one state of the store; one without `snapshot` (a read of rows that never
    change once stored) sends SQLite no BEGIN, and each of its statements sees what was committed
    before it ran."""
    store = Store(f"sqlite:///{tmp_path / 'xietong.db'}")
    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2].split()[0].upper()))
    count = select(func.count()).select_from(Division)
    with store.read(snapshot=snapshot) as session:
        before = session.scalar(count)
        with store.write() as other:
            other.add(Division(code="371621", name="惠民县"))
        after = session.scalar(count)
    assert (before, after) == ((0, 0) if snapshot else (0, 1))
    assert statements[0] == ("BEGIN" if snapshot else "SELECT")
