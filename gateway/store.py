"""Durable state through SQLAlchemy: SQLite (WAL) by default, PostgreSQL by settings only.

Write transactions on SQLite start with BEGIN IMMEDIATE, so that concurrent processes queue
for the write lock instead of failing half-way (and so the audit chain has one head). Before that
BEGIN, writers of one database file queue on a lock file beside it (see `WriteLock`). On
PostgreSQL they queue on one advisory lock (`_postgresql_engine`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

import structlog
from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    create_engine,
    event,
    insert,
    inspect,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

log = structlog.get_logger(__name__)

# The store cannot be reached or written now (the database down, a disk error, SQLite locked past
# its timeout, no pooled connection free): a fault of the moment, not of what was being written.
STORE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)


def unavailable_because(exc: Exception) -> str:
    """What the database said, for the log: SQLAlchemy's own text adds the statement and its
    parameters, which carry the documents' personal data."""
    return repr(getattr(exc, "orig", None) or exc)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON, list[str]: JSON}


class Division(Base):
    """行政区划 the directory knows."""

    __tablename__ = "divisions"
    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class Unit(Base):
    """An agency unit: who it is, which adapter speaks its format, where it has jurisdiction."""

    __tablename__ = "units"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    unit_type: Mapped[str] = mapped_column(String(32))
    agency: Mapped[str] = mapped_column(String(32))
    division_code: Mapped[str] = mapped_column(String(6), index=True)
    adapter: Mapped[str] = mapped_column(String(32))
    covers: Mapped[list[str]] = mapped_column(default=list)  # area-code prefixes of its jurisdiction
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    api_key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)


class StoredMessage(Base):
    __tablename__ = "messages"
    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    case_number: Mapped[str] = mapped_column(String(64), index=True)
    person_key: Mapped[str | None] = mapped_column(String(64), index=True)
    sender_code: Mapped[str] = mapped_column(String(32), index=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(36), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    received_at: Mapped[datetime]
    source_sha256: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)  # the canonical message, JSON


class Document(Base):
    """A file in the content-addressed folder; the row says it is complete."""

    __tablename__ = "documents"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))
    stored_at: Mapped[datetime]


class MessageDocument(Base):
    __tablename__ = "message_documents"
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.message_id"), primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("documents.sha256"), primary_key=True)


class Delivery(Base):
    """One recipient of one message, and the evidence of each step on its way."""

    __tablename__ = "deliveries"
    delivery_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.message_id"), index=True)
    recipient_code: Mapped[str] = mapped_column(ForeignKey("units.code"))
    role: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(64))
    projection: Mapped[str] = mapped_column(String(64))
    adapter: Mapped[str] = mapped_column(String(32))
    accepted_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    retrieved_at: Mapped[datetime | None]
    acked_at: Mapped[datetime | None]
    pushed_at: Mapped[datetime | None]
    media_type: Mapped[str | None] = mapped_column(String(100))
    rendered: Mapped[bytes | None] = mapped_column(LargeBinary)
    rendered_sha256: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_inbox", "recipient_code", "delivered_at"),)


class OutboxEntry(Base):
    """What must reach the broker; written in the transaction that decided it (outbox pattern)."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    routing_key: Mapped[str] = mapped_column(String(64))
    delivery_id: Mapped[str] = mapped_column(String(36))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None] = mapped_column(index=True)


class AuditEntry(Base):
    """Append-only, hash-chained: each entry's hash covers its content and the previous hash."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(64), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


GENESIS = "0" * 64


def entry_hash(entry_id: int, at: datetime, actor: str, event: str, subject: str | None, details: dict[str, Any], prev: str) -> str:
    content = json.dumps(
        [entry_id, at.isoformat(), actor, event, subject, details, prev], ensure_ascii=False, sort_keys=True, default=str
    )
    return hashlib.sha256(content.encode()).hexdigest()


class JointMeeting(Base):
    """联席会议: a meeting the committee (政法委) convenes for its division, on a date; its agenda is
    the issues placed on it."""

    __tablename__ = "joint_meetings"
    meeting_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    held_on: Mapped[date] = mapped_column(Date)
    place: Mapped[str] = mapped_column(String(200))
    convened_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]


class MeetingIssue(Base):
    """联席会议议题: a hard inter-agency matter of one division, from an overdue obligation, a case,
    or by hand; its history is the audit entries whose subject it is."""

    __tablename__ = "meeting_issues"
    issue_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(16))  # obligation, case or manual
    origin_ref: Mapped[str | None] = mapped_column(String(200))  # the obligation id or case number it came from
    parties: Mapped[list[str]]
    cases: Mapped[list[str]]
    messages: Mapped[list[str]]
    meeting_id: Mapped[str | None] = mapped_column(String(36), index=True)  # the meeting whose agenda holds it
    opened_by: Mapped[str] = mapped_column(String(32))
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    closed_note: Mapped[str | None] = mapped_column(Text)


class AssignedObligation(Base):
    """An obligation assigned by a decision rather than derived from a message: a joint meeting's
    decision (联席会议决定) owed by a party to the committee by a date, met when marked done."""

    __tablename__ = "assigned_obligations"
    key: Mapped[str] = mapped_column(String(36), primary_key=True)
    issue_id: Mapped[str | None] = mapped_column(String(36), index=True)  # the joint-meeting issue that decided it
    rule: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    basis: Mapped[str] = mapped_column(String(500))
    case_number: Mapped[str | None] = mapped_column(String(64), index=True)
    owed_by_code: Mapped[str | None] = mapped_column(String(32), index=True)  # None: a party with no unit in the gateway (民政、卫健)
    owed_by_name: Mapped[str] = mapped_column(String(100))
    owed_to_code: Mapped[str] = mapped_column(String(32))
    owed_to_name: Mapped[str] = mapped_column(String(100))
    opened_at: Mapped[datetime]
    due_on: Mapped[date] = mapped_column(Date)
    met_at: Mapped[datetime | None]
    met_by: Mapped[str | None] = mapped_column(String(32))
    met_note: Mapped[str | None] = mapped_column(Text)


class Audit:
    """Appends to the chain inside the caller's write transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session
        table = AuditEntry.__table__
        last = session.execute(select(table.c.id, table.c.hash).order_by(table.c.id.desc()).limit(1)).first()
        self.next_id, self.head = (last[0] + 1, last[1]) if last else (1, GENESIS)

    def append(self, actor: str, event: str, subject: str | None = None, **details: Any) -> None:
        self.append_many([(actor, event, subject, details)])

    def append_many(self, entries: list[tuple[str, str, str | None, dict[str, Any]]]) -> None:
        """One entry per (actor, event, subject, details), chained in order, written in one
        statement: a batch holding the store's write lock must not hand the GIL over once per row."""
        at, rows = utcnow(), []
        for actor, name, subject, details in entries:
            plain = json.loads(json.dumps(details, ensure_ascii=False, default=str))
            digest = entry_hash(self.next_id, at, actor, name, subject, plain, self.head)
            rows.append({"id": self.next_id, "at": at, "actor": actor, "event": name, "subject": subject, "details": plain, "prev_hash": self.head, "hash": digest})
            self.next_id, self.head = self.next_id + 1, digest
        if rows:
            self.session.connection().execute(insert(AuditEntry.__table__), rows)


class WriteLock:
    """Writers of one SQLite file queue here, in the kernel, before BEGIN IMMEDIATE.

    SQLite's own busy handler polls with sleeps that grow to 100 ms, so under load the write lock
    sat idle while every process slept; a blocking flock wakes the next writer the moment the
    last one commits. The kernel drops the lock of a killed process, as it does SQLite's.

    An urgent writer (an alert's) goes next: it holds a second lock file, the gate, while it waits
    for the lock, and any other writer that takes the lock while the gate is held gives it back
    and waits behind the gate. flock wakes every waiter at once, and alerts lost that race to the
    API's, the worker's and the relay's transactions (waits of p99 100 ms under load).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._own = threading.local()

    def _files(self) -> _LockFiles:
        """This thread's own open lock files: flock arbitrates between open files, so the threads of
        a process queue in the kernel as processes do, and an alert's thread goes ahead of a
        document's in the same worker too."""
        files: _LockFiles | None = getattr(self._own, "files", None)
        if files is None or files.pid != os.getpid():  # a forked child must not share its parent's
            files = self._own.files = _LockFiles(self.path)
        return files

    @contextmanager
    def held(self, urgent: bool = False) -> Iterator[None]:
        files = self._files()
        if urgent:
            with _flocked(files.gate):
                fcntl.flock(files.lock, fcntl.LOCK_EX)
        else:
            self._take_behind_the_gate(files.lock, files.gate)
        try:
            yield
        finally:
            fcntl.flock(files.lock, fcntl.LOCK_UN)

    @staticmethod
    def _take_behind_the_gate(lock: int, gate: int) -> None:
        while True:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                fcntl.flock(gate, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # an urgent writer waits for the lock: it goes first
                fcntl.flock(lock, fcntl.LOCK_UN)
                with _flocked(gate):
                    pass
            else:
                fcntl.flock(gate, fcntl.LOCK_UN)
                return


class _LockFiles:
    """One thread's descriptors of the lock file and the gate, closed once the thread is gone."""

    def __init__(self, path: str) -> None:
        self.pid = os.getpid()
        self.lock, self.gate = (os.open(name, os.O_RDWR | os.O_CREAT, 0o600) for name in (path, f"{path}.gate"))
        weakref.finalize(self, _close, self.lock, self.gate)


def _close(*fds: int) -> None:
    for fd in fds:
        os.close(fd)


@contextmanager
def _flocked(fd: int) -> Iterator[None]:
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


MOST_WAITING = 16  # items handed in for the next shared transaction before more are held back (`Store.hand_in`)
BatchWriter = Callable[[Session, list[Any]], list[Exception | None]]


@dataclass
class _Together:
    """One item for a shared write transaction, the writer that writes its batch, and the future
    its caller waits on."""

    item: Any
    writer: BatchWriter
    written: Future[None] = field(default_factory=Future)

    def __post_init__(self) -> None:
        # Under way from the start: a caller that stops waiting (the API's request, its client gone)
        # cannot cancel it, and the committer, which answers every item, never meets a cancelled one.
        self.written.set_running_or_notify_cancel()


class Store:
    def __init__(self, url: str) -> None:
        self.engine = _engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        database = self.engine.url.database if self.engine.dialect.name == "sqlite" else None
        self.write_lock = WriteLock(f"{database}.writelock") if database and database != ":memory:" else None
        self._create_tables()
        self._waiting: dict[bool, list[_Together]] = {False: [], True: []}  # by urgency
        self._handed_in = threading.Condition()
        self._committers: dict[bool, threading.Thread] = {}
        self._watch = threading.local()  # each thread's connection for `commits_elsewhere`
        self._watching: Callable[[], _CommitWatch] | None = None
        if self.write_lock is not None:
            self._watching = lambda: _SqliteWatch(str(database))
        elif self.engine.dialect.name == "postgresql":
            self._watching = lambda: _PostgresWatch(self.engine)

    def _create_tables(self) -> None:
        """The tables that are missing, created as a writer: the roles of a gateway start at once,
        and on a new database each found a table missing and created it, and all but one failed
        on "already exists" (a crash of the role at its first start). A store that has them all,
        as every start but the first finds it, is only looked at: no write lock, no notification."""
        if set(Base.metadata.tables) <= set(inspect(self.engine).get_table_names()):
            return
        with self._locked(False), self.engine.connect() as connection:
            with connection.execution_options(xietong_write=True).begin():
                Base.metadata.create_all(connection)

    @contextmanager
    def write(self, urgent: bool = False) -> Iterator[Session]:
        """One write transaction: committed on success, rolled back entirely on any error. An
        urgent one (an alert's) takes the write lock ahead of the others waiting for it."""
        with self._locked(urgent), self._sessions() as session, session.begin():
            session.connection(execution_options={"xietong_write": True})
            yield session

    def hand_in(self, item: Any, writer: BatchWriter, urgent: bool = False) -> Future[None]:
        """Have one of this process's committer threads write `item` in a write transaction shared with the
        items handed in meanwhile (group commit): one BEGIN IMMEDIATE and one commit for all of
        them, where the write lock of the file, not the CPU, is what every process queues for.
        `writer` writes a batch of items in a few statements and returns, per item, None or the
        exception that refuses that item alone (a duplicate, say). Should the shared transaction
        fail, each item is written again alone, so one bad item takes nothing else with it.

        The future completes once the item's transaction has committed, or fails with what refused
        it. The thread that handed the item in need not wait for it: the API's few acceptance
        threads prepare the next submissions meanwhile. (When each of 16 threads waited for its own
        commit instead, the batches formed the same way, but 16 runnable threads shared the GIL and
        the API accepted about a third fewer documents for the same CPU.) Only while MOST_WAITING
        items wait for the next transaction is the caller held back, until that transaction starts:
        threads that ran further ahead took the GIL from the committer, whose transactions then
        took hundreds of ms. An `urgent` item (an alert) is never held back: it would hold the
        thread kept for alerts. Nor does it wait for documents: urgent items have a committer
        thread of their own, whose transactions take the write lock ahead of the documents' (one
        fsync more). With one committer, an alert waited p50 30 ms for the transaction of documents
        under way, and 30 ms more when written with documents."""
        together = _Together(item, writer)
        with self._handed_in:
            committer = self._committers.get(urgent)
            if committer is None or not committer.is_alive():
                name = "store-committer-urgent" if urgent else "store-committer"
                committer = self._committers[urgent] = threading.Thread(target=self._commit_forever, args=(urgent,), name=name, daemon=True)
                committer.start()
            self._handed_in.wait_for(lambda: urgent or len(self._waiting[False]) < MOST_WAITING)
            self._waiting[urgent].append(together)
            self._handed_in.notify_all()  # the committers, among those held back
        return together.written

    def _commit_forever(self, urgent: bool) -> None:
        while True:
            with self._handed_in:
                self._handed_in.wait_for(lambda: self._waiting[urgent])
                batch, self._waiting[urgent] = self._waiting[urgent], []
                self._handed_in.notify_all()  # room for those held back
            try:
                self._commit_together(batch, urgent)
            finally:  # nothing waits forever, whatever ended the batch
                for member in batch:
                    if not member.written.done():
                        member.written.set_exception(RuntimeError("the group commit stopped before this item was written"))

    def _commit_together(self, batch: list[_Together], urgent: bool) -> None:
        try:
            groups: dict[BatchWriter, list[_Together]] = {}
            for member in batch:
                groups.setdefault(member.writer, []).append(member)
            outcomes: list[tuple[_Together, Exception | None]] = []
            with self.write(urgent) as session:
                for writer, members in groups.items():
                    outcomes += zip(members, writer(session, [m.item for m in members]), strict=True)
        except Exception as exc:  # the shared transaction failed: nothing of it is stored
            if len(batch) == 1:
                batch[0].written.set_exception(exc)
            else:
                log.warning("store.batch_failed", items=len(batch), error=repr(exc))
                for member in batch:
                    self._commit_together([member], urgent)
            return
        for member, outcome in outcomes:  # committed
            if outcome is None:
                member.written.set_result(None)
            else:
                member.written.set_exception(outcome)

    def _locked(self, urgent: bool) -> AbstractContextManager[None]:
        return self.write_lock.held(urgent) if self.write_lock else nullcontext()

    @contextmanager
    def read(self, snapshot: bool = True) -> Iterator[Session]:
        """A read session. With `snapshot`, its statements see one state of the store (a read
        transaction); without, each sees what was committed when it ran, and on SQLite the session
        costs no BEGIN and no ROLLBACK: each is a step that hands the GIL over and must wait to get
        it back, a third of an alert's time in the API under load (py-spy). (PostgreSQL's driver
        begins a transaction all the same, at READ COMMITTED.)"""
        with self._sessions() as session:
            if not snapshot:
                session.connection(execution_options={"xietong_snapshot": False})
            yield session

    def commits_elsewhere(self) -> int | None:
        """A number that changes whenever a connection commits, read without a query on a
        connection of this thread's own that never writes: a poller that finds it unchanged since
        its last read knows there is nothing new. On SQLite `PRAGMA data_version`; on PostgreSQL
        the notifications each write transaction sends at its commit, counted. None on other
        databases, and when the database cannot tell."""
        if self._watching is None:
            return None
        try:
            watch: _CommitWatch | None = getattr(self._watch, "connection", None)
            if watch is None:
                watch = self._watch.connection = self._watching()
            return watch.commits()
        except self.engine.dialect.loaded_dbapi.Error:  # cannot tell: the caller reads, and its read says what is wrong
            self._watch.connection = None
            return None


class _CommitWatch(Protocol):
    def commits(self) -> int: ...


class _SqliteWatch:
    def __init__(self, database: str) -> None:
        self.connection = sqlite3.connect(database, isolation_level=None)

    def commits(self) -> int:
        return int(self.connection.execute("PRAGMA data_version").fetchone()[0])


class _PostgresWatch:
    """Listens on COMMITS_CHANNEL. PostgreSQL hands a notification on once its transaction is
    visible, sometimes a moment after the commit returned: a poll that misses it sees it at the next.

    Silence is trusted for SILENCE_TRUSTED_SECONDS only: a connection that went half-open (the
    database's host gone, a failover behind the same address) hears nothing and raises nothing,
    and a live hub trusting it would never read the inbox again, every desk quiet."""

    def __init__(self, engine: Engine) -> None:
        pooled = engine.raw_connection()
        self.connection = pooled.driver_connection
        pooled.detach()  # this thread's for good: out of the pool, closed with the process
        self.connection.autocommit = True
        self.connection.execute(f"LISTEN {COMMITS_CHANNEL}")
        self.count, self.changed_at = 0, time.monotonic()

    def commits(self) -> int:
        heard = sum(1 for _ in self.connection.notifies(timeout=0))
        now = time.monotonic()
        if heard or now - self.changed_at >= SILENCE_TRUSTED_SECONDS:
            self.count, self.changed_at = self.count + 1, now
        return self.count


def _engine(url: str) -> Engine:
    if url.startswith("postgresql"):
        return _postgresql_engine(url)
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA cache_size=-512")  # KiB per connection (default 2 MB): the API pools up to 15, the OS caches the file anyway
        cursor.close()

    _begin_with(engine, lambda: "BEGIN IMMEDIATE", "BEGIN")
    return engine


def _begin_with(engine: Engine, write: Callable[[], str], snapshot: str) -> None:
    """Each transaction's first statement: `write()` for a write (`Store.write`), `snapshot` for a
    read that sees one state of the store, none for a read that need not (`Store.read`)."""

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        if options.get("xietong_write", False):
            connection.exec_driver_sql(write())
        elif options.get("xietong_snapshot", True):
            connection.exec_driver_sql(snapshot)


WRITERS_LOCK = 0x78696574  # PostgreSQL's advisory lock that every write transaction holds ("xiet")
COMMITS_CHANNEL = "xietong_commits"  # notified by every write transaction on PostgreSQL, at its commit
SILENCE_TRUSTED_SECONDS = 5.0  # a poller on PostgreSQL reads at least this often, whatever its LISTEN connection hears
WRITER_IDLE_MS = 10_000  # a write transaction idle this long on PostgreSQL is ended, and its lock freed


def _postgresql_engine(url: str) -> Engine:
    """One writer at a time, as on SQLite: a write transaction first takes one transaction-level
    advisory lock. Writes are many and short, and what they share is a single head: each audit
    entry's id and hash follow the last one, so two writers at once read the same head and one
    of them fails on the duplicate id (a 500 for a sender). It also keeps ids in commit order,
    which the relay's and the live hub's cursors count on. Under READ COMMITTED every statement
    after the lock sees the last writer's commit; a read session with a snapshot is REPEATABLE
    READ, as SQLite's read transactions are. Times are UTC, as the SQLite file keeps them. A write
    also notifies COMMITS_CHANNEL, sent at its commit, for `Store.commits_elsewhere`.

    A writer whose host dies holding the lock leaves a connection that the server, with the
    system's keepalives, finds dead only after hours: every writer would wait that long. A write
    transaction left idle for WRITER_IDLE_MS is ended by the server instead (a killed process
    closes its socket, and its lock is freed at once)."""
    engine = create_engine(url, pool_pre_ping=True, connect_args={"options": "-c timezone=UTC"})
    _begin_with(engine, _postgresql_write, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    return engine


def _postgresql_write() -> str:
    return (
        f"SELECT set_config('idle_in_transaction_session_timeout', '{WRITER_IDLE_MS}', true),"
        f" pg_advisory_xact_lock({WRITERS_LOCK}), pg_notify('{COMMITS_CHANNEL}', '')"
    )
