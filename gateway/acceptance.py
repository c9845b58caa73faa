"""Acceptance: authenticate, translate, route and store a submission in one transaction.

A submission is acknowledged only after the message, its documents, its deliveries and the
outbox entries that will carry them to the broker are committed together; the broker being
down delays delivery, it never refuses a submission. A refused submission leaves nothing
behind but an audit entry.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import mimetypes
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

import structlog
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from adapters.base import InboundError, registry
from contracts.catalog import spec_of
from contracts.common import DOCUMENT_TITLES, Agency
from contracts.envelope import AttachmentClaim, CaseRef, DocumentRef, Draft, Recipient, Sender
from contracts.identifiers import uuid7
from gateway.broker import routing_key_of
from gateway.directory import Directory, UnitInfo
from gateway.documents import DocumentFolder, StagedFile, TooLarge
from gateway.errors import Refusal
from gateway.routing import PlannedDelivery, Router, RoutingError
from gateway.settings import Settings
from gateway.store import Audit, Delivery, Document, MessageDocument, OutboxEntry, Store, StoredMessage, Unit, utcnow

log = structlog.get_logger(__name__)

SYNTAX_CODES = {"xml_empty", "xml_malformed", "xml_forbidden_dtd", "xml_encoding_invalid", "xml_encoding_unsupported", "json_malformed", "json_encoding_invalid"}


@dataclass(frozen=True)
class Upload:
    """An attachment part of a multipart submission."""

    filename: str
    content_type: str | None
    file: BinaryIO


@dataclass(frozen=True)
class PlannedView:
    delivery_id: str
    recipient: str
    recipient_name: str
    role: str
    rule: str


@dataclass(frozen=True)
class Accepted:
    message_id: str
    kind: str
    duplicate: bool
    deliveries: list[PlannedView]


class StoreLookup:
    """Routing's questions about earlier messages, answered inside the acceptance transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def sender_of(self, message_id: str) -> str | None:
        return self.session.scalar(select(StoredMessage.sender_code).where(StoredMessage.message_id == message_id))

    def case_party(self, case_number: str, agency: Agency) -> str | None:
        return self.session.scalar(
            select(StoredMessage.sender_code)
            .join(Unit, Unit.code == StoredMessage.sender_code)
            .where(StoredMessage.case_number == case_number, Unit.agency == agency.value)
            .order_by(StoredMessage.received_at)
            .limit(1)
        )


class Acceptance:
    def __init__(self, settings: Settings, store: Store, directory: Directory, router: Router, folder: DocumentFolder) -> None:
        self.settings, self.store, self.directory, self.router, self.folder = settings, store, directory, router, folder

    def accept(self, unit: UnitInfo, adapter_name: str, document: bytes, uploads: list[Upload]) -> Accepted:
        """Accept on the caller's thread, returning once stored (the watcher's notices, tests)."""
        return self.settle(self.prepare(unit, adapter_name, document, uploads))

    def prepare(self, unit: UnitInfo, adapter_name: str, document: bytes, uploads: list[Upload]) -> Pending:
        """Everything but the wait for the commit: check, translate and route the submission, and
        hand its rows to the store's group commit. A refusal is raised here, and recorded."""
        try:
            return self._prepare(unit, adapter_name, document, uploads)
        except Refusal as refusal:
            self.record_refusal(unit, adapter_name, document, refusal)
            raise

    def settle(self, pending: Pending) -> Accepted:
        """The submission once its rows are committed (waits until then): the message accepted; or
        the one stored first under the same idempotency key, read from the store, when the same
        submission was committed meanwhile."""
        try:
            pending.written.result()
        except _Duplicate:
            existing = self._existing(pending.key)
            if existing is None:
                raise
            return existing
        if not pending.accepted.duplicate:
            log.info("message.accepted", message_id=pending.accepted.message_id, kind=pending.accepted.kind, sender=pending.sender, deliveries=len(pending.accepted.deliveries), documents=pending.documents)
        return pending.accepted

    def _prepare(self, unit: UnitInfo, adapter_name: str, document: bytes, uploads: list[Upload]) -> Pending:
        adapter = registry().get(adapter_name)
        if adapter is None:
            raise Refusal(404, "adapter_unknown", f"没有名为“{adapter_name}”的接入适配器")
        if unit.adapter != adapter_name:
            raise Refusal(403, "adapter_not_allowed", f"本单位应通过“{unit.adapter}”适配器报送，而不是“{adapter_name}”")
        if len(document) > self.settings.max_document_bytes:
            raise Refusal(413, "document_too_large", f"报文超过{self.settings.max_document_bytes}字节的上限")
        try:
            draft = adapter.parse(document)
        except InboundError as exc:
            raise Refusal(400 if exc.code in SYNTAX_CODES else 422, exc.code, exc.message, line=exc.line, field=exc.field) from None
        spec = spec_of(draft.kind)
        if draft.kind not in adapter.kinds_in:
            raise Refusal(422, "kind_unsupported", f"“{adapter_name}”适配器不接收“{spec.title}”（{draft.kind}）")
        if unit.agency not in spec.senders:
            raise Refusal(403, "kind_not_allowed", f"{unit.name}无权报送“{spec.title}”（{draft.kind}）")
        if (required := spec.documents(draft.payload.model_dump(mode="json"))) and not any(c.document_kind in required for c in draft.attachments):
            titles = "或".join(DOCUMENT_TITLES[kind] for kind in sorted(required))
            raise Refusal(422, "document_required", f"“{spec.title}”须随附{titles}，请在附件列表中声明并上传", field="attachments")
        attached = self._stage(draft, uploads)
        try:
            return self._hand_in(unit, adapter_name, document, draft, attached)
        finally:
            self.folder.discard([item for item, _ in attached])

    def _stage(self, draft: Draft[Any], uploads: list[Upload]) -> list[tuple[StagedFile, AttachmentClaim]]:
        """Hash every attachment into staging and match it with what the document declares."""
        if len(uploads) > self.settings.max_attachments:
            raise Refusal(413, "too_many_attachments", f"附件超过{self.settings.max_attachments}个")
        claims = {claim.filename: claim for claim in draft.attachments}
        staged: list[tuple[StagedFile, AttachmentClaim]] = []
        try:
            for upload in uploads:
                claim = claims.get(upload.filename)
                if claim is None:
                    raise Refusal(422, "attachment_unexpected", f"附件“{upload.filename}”未在报文的附件列表中声明", field=upload.filename)
                if any(c.filename == upload.filename for _, c in staged):
                    raise Refusal(422, "attachment_duplicate", f"附件“{upload.filename}”重复上传", field=upload.filename)
                try:
                    item = self.folder.stage(upload.file, self.settings.max_attachment_bytes)
                except TooLarge:
                    raise Refusal(413, "attachment_too_large", f"附件“{upload.filename}”超过{self.settings.max_attachment_bytes}字节的上限", field=upload.filename) from None
                staged.append((item, claim))
                if claim.sha256 and claim.sha256 != item.sha256:
                    raise Refusal(
                        422,
                        "attachment_digest_mismatch",
                        f"附件“{upload.filename}”的内容与报文声明的sha256不符（声明{claim.sha256[:12]}…，实际{item.sha256[:12]}…）",
                        field=upload.filename,
                    )
            received = {u.filename for u in uploads}
            for filename in claims:
                if filename not in received:
                    raise Refusal(422, "attachment_missing", f"报文声明的附件“{filename}”未随报文上传", field=filename)
        except BaseException:
            self.folder.discard([item for item, _ in staged])
            raise
        return staged

    @staticmethod
    def _key(unit: UnitInfo, adapter_name: str, source_sha: str, attached: list[tuple[StagedFile, AttachmentClaim]]) -> str:
        """Idempotency: the same unit sending the same bytes (`source_sha`) with the same files is one message."""
        parts = [unit.code, adapter_name, source_sha, sorted(item.sha256 for item, _ in attached)]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()

    def _hand_in(
        self, unit: UnitInfo, adapter_name: str, document: bytes, draft: Draft[Any], attached: list[tuple[StagedFile, AttachmentClaim]]
    ) -> Pending:
        """Check and route against what is stored, then hand the rows in to be written in a
        transaction shared with the submissions that arrive meanwhile (`Store.hand_in`).

        The checks and routing read before the write: stored messages and their deliveries never
        change, so what they found still holds at the commit, and the idempotency key is unique,
        so a duplicate committed meanwhile is caught by the write itself."""
        source_sha = hashlib.sha256(document).hexdigest()
        key = self._key(unit, adapter_name, source_sha, attached)
        received_at = datetime.now(UTC)
        with self.store.read(snapshot=False) as session:  # what it reads never changes once stored
            existing = self._existing_in(session, key)
            if existing:
                return Pending(existing, key, unit.code, len(attached), _written())
            case_number = self._check_reply(unit, draft, session)
            message = {
                "message_id": str(uuid7()),
                "kind": draft.kind,
                "schema_version": 1,
                "case": CaseRef(case_number=case_number, person_key=self._person_key(draft, session)).model_dump(mode="json"),
                "in_reply_to": str(draft.in_reply_to) if draft.in_reply_to else None,
                "sender": Sender(
                    agency=unit.agency, unit_type=unit.unit_type, unit_code=unit.code, unit_name=unit.name, division_code=unit.division_code
                ).model_dump(mode="json"),
                "occurred_at": (draft.occurred_at or received_at).isoformat(),
                "received_at": received_at.isoformat(),
                "documents": [
                    DocumentRef(
                        sha256=item.sha256,
                        media_type=mimetypes.guess_type(claim.filename)[0] or "application/octet-stream",
                        size=item.size,
                        filename=claim.filename,
                        title=claim.title,
                        document_kind=claim.document_kind,
                    ).model_dump(mode="json")
                    for item, claim in attached
                ],
                "payload": draft.payload.model_dump(mode="json"),
            }
            try:
                planned = self.router.plan(message, StoreLookup(session))
            except RoutingError as exc:
                raise Refusal(422, exc.code, exc.message, field=exc.field) from None
        if not planned:
            raise Refusal(422, "recipient_unresolved", "按路由规则没有任何收件单位，请核对执行地或居住地")
        message["recipients"] = [
            Recipient(unit_code=p.unit.code, unit_name=p.unit.name, role=p.role, rule=p.rule).model_dump(mode="json") for p in planned
        ]
        # The draft's payload model itself, which pydantic does not validate again (the ID's check digit and birthplace lookup once, not twice).
        canonical = spec_of(draft.kind).message_model.model_validate({**message, "payload": draft.payload})
        body = canonical.model_dump_json()
        rows, views = self._rows(unit, key, source_sha, message, body, planned)
        for item, _ in attached:
            self.folder.commit(item)
        return Pending(Accepted(message["message_id"], draft.kind, False, views), key, unit.code, len(attached), self.store.hand_in(rows, self._write_batch, urgent=spec_of(draft.kind).live))

    @staticmethod
    def _rows(
        unit: UnitInfo, key: str, source_sha: str, message: dict[str, Any], body: str, planned: list[PlannedDelivery]
    ) -> tuple[_Rows, list[PlannedView]]:
        """The rows a submission adds, built before the write transaction so that it only inserts them."""
        now = utcnow()
        message_id = message["message_id"]
        views = [PlannedView(str(uuid7()), plan.unit.code, plan.unit.name, plan.role, plan.rule) for plan in planned]
        pairs = list(zip(views, planned, strict=True))
        live = spec_of(message["kind"]).live
        rows = _Rows(
            key=key,
            message={
                "message_id": message_id,
                "kind": message["kind"],
                "case_number": message["case"]["case_number"],
                "person_key": message["case"]["person_key"],
                "sender_code": unit.code,
                "in_reply_to": message["in_reply_to"],
                "idempotency_key": key,
                "received_at": datetime.fromisoformat(message["received_at"]),  # as the body says, which deadlines count from
                "source_sha256": source_sha,
                "body": body,
            },
            documents=[{"sha256": ref["sha256"], "size": ref["size"], "media_type": ref["media_type"], "stored_at": now} for ref in message["documents"]],
            deliveries=[
                {
                    "message_id": message_id,
                    "accepted_at": now,
                    "attempts": 0,
                    "delivery_id": view.delivery_id,
                    "recipient_code": view.recipient,
                    "role": view.role,
                    "rule": view.rule,
                    "projection": plan.projection,
                    "adapter": plan.unit.adapter,
                }
                for view, plan in pairs
            ],
            outbox=[
                {
                    "routing_key": routing_key_of(plan.unit.adapter, live),
                    "delivery_id": view.delivery_id,
                    # the delivery, not the message: the consumer reads the canonical message from the store
                    "body": json.dumps(
                        {"delivery_id": view.delivery_id, "message_id": message_id, "recipient": view.recipient, "adapter": plan.unit.adapter, "projection": plan.projection}
                    ).encode(),
                    "created_at": now,
                }
                for view, plan in pairs
            ],
            audit=(
                unit.code,
                "message.accepted",
                message_id,
                {
                    "kind": message["kind"],
                    "source_sha256": source_sha,
                    "deliveries": [{"delivery_id": v.delivery_id, "recipient": v.recipient, "rule": v.rule} for v in views],
                },
            ),
        )
        return rows, views

    @staticmethod
    def _write_batch(session: Session, batch: list[_Rows]) -> list[Exception | None]:
        """Insert the submissions of one shared write transaction, a statement per table, since
        every other writer of the store waits meanwhile. A submission whose idempotency key is
        stored already, or taken earlier in the batch, is refused alone as a duplicate."""
        taken = set(session.scalars(select(StoredMessage.idempotency_key).where(StoredMessage.idempotency_key.in_([r.key for r in batch]))))
        outcomes: list[Exception | None] = []
        fresh: list[_Rows] = []
        for rows in batch:
            outcomes.append(_Duplicate() if rows.key in taken else None)
            if rows.key not in taken:
                taken.add(rows.key)
                fresh.append(rows)
        if not fresh:
            return outcomes
        connection = session.connection()
        connection.execute(insert(StoredMessage.__table__), [r.message for r in fresh])
        documents = {d["sha256"]: d for r in fresh for d in r.documents}
        if documents:
            stored = set(session.scalars(select(Document.sha256).where(Document.sha256.in_(documents))))
            new = [d for sha, d in documents.items() if sha not in stored]
            if new:
                connection.execute(insert(Document.__table__), new)
            # one link per file and message, though a message may list the same file under two names
            links = {(r.message["message_id"], d["sha256"]) for r in fresh for d in r.documents}
            connection.execute(insert(MessageDocument.__table__), [{"message_id": m, "sha256": sha} for m, sha in links])
        connection.execute(insert(Delivery.__table__), [d for r in fresh for d in r.deliveries])
        connection.execute(insert(OutboxEntry.__table__), [o for r in fresh for o in r.outbox])
        Audit(session).append_many([r.audit for r in fresh])
        return outcomes

    def _existing(self, key: str) -> Accepted | None:
        with self.store.read() as session:
            return self._existing_in(session, key)

    @staticmethod
    def _existing_in(session: Session, key: str) -> Accepted | None:
        """The stored submission with this idempotency key. Asked of every submission, nearly always
        in vain, so through the Core connection: an ORM query cost a tenth of the API's GIL time."""
        table = StoredMessage.__table__
        row = session.connection().execute(select(table.c.message_id, table.c.kind).where(table.c.idempotency_key == key)).first()
        if row is None:
            return None
        message_id, kind = row
        deliveries = session.execute(
            select(Delivery, Unit.name).join(Unit, Unit.code == Delivery.recipient_code).where(Delivery.message_id == message_id)
        ).all()
        log.info("message.duplicate", message_id=message_id)
        return Accepted(message_id, kind, True, [PlannedView(d.delivery_id, d.recipient_code, name, d.role, d.rule) for d, name in deliveries])

    def _person_key(self, draft: Draft[Any], session: Session) -> str | None:
        """A keyed hash of the person's identity: links a case across agencies without the ID."""
        person = getattr(draft.payload, "person", None)
        if person is not None:
            identity = f"{person.id_type.value}:{person.id_number}".encode()
            return hmac.new(self.settings.person_key_secret.encode(), identity, hashlib.sha256).hexdigest()[:32]
        if draft.in_reply_to:
            return session.scalar(select(StoredMessage.person_key).where(StoredMessage.message_id == str(draft.in_reply_to)))
        return None

    def _check_reply(self, unit: UnitInfo, draft: Draft[Any], session: Session) -> str:
        """A reply must name a message of a kind it answers, addressed to the replying unit, in
        the same case; the message's case number (the answered one's when the draft has none)."""
        spec = spec_of(draft.kind)
        if draft.in_reply_to is None:
            if spec.answers:
                raise Refusal(422, "reply_target_missing", f"“{spec.title}”须注明所答复的报文编号（in_reply_to）", field="in_reply_to")
            if draft.case is None:
                raise Refusal(422, "case_missing", f"“{spec.title}”须注明案号", field="case.case_number")
            return draft.case.case_number
        target = session.get(StoredMessage, str(draft.in_reply_to))
        addressed = target is not None and (
            target.sender_code == unit.code
            or session.scalar(
                select(Delivery.delivery_id).where(Delivery.message_id == target.message_id, Delivery.recipient_code == unit.code)
            )
        )
        if not addressed:
            raise Refusal(422, "reply_target_unknown", f"所答复的报文{draft.in_reply_to}不存在或未发给本单位", field="in_reply_to")
        if spec.answers and target.kind not in spec.answers:
            raise Refusal(422, "reply_target_kind", f"“{spec.title}”不能答复{target.kind}类报文", field="in_reply_to")
        if objection := spec.objection(json.loads(target.body)["payload"]):
            raise Refusal(422, "reply_target_objects", objection, field="in_reply_to")
        if draft.case is None:
            return target.case_number
        if target.case_number != draft.case.case_number:
            raise Refusal(422, "reply_case_mismatch", f"答复的案号{draft.case.case_number}与原报文案号{target.case_number}不一致", field="case.case_number")
        return target.case_number

    def record_refusal(self, unit: UnitInfo, adapter_name: str, document: bytes, refusal: Refusal) -> None:
        """A refused submission leaves this audit entry and nothing else."""
        with self.store.write() as session:
            Audit(session).append(
                unit.code,
                "message.refused",
                None,
                adapter=adapter_name,
                source_sha256=hashlib.sha256(document).hexdigest(),
                code=refusal.code,
                reason=refusal.message,
                line=refusal.line,
                field=refusal.field,
            )
        log.info("message.refused", sender=unit.code, adapter=adapter_name, code=refusal.code, line=refusal.line, field=refusal.field)


@dataclass(frozen=True)
class Pending:
    """A submission prepared and handed in: `written` completes once its rows are committed, or
    fails with `_Duplicate` when the same submission was committed meanwhile."""

    accepted: Accepted  # what the answer says once written
    key: str  # the idempotency key
    sender: str
    documents: int
    written: Future[None]


def _written() -> Future[None]:
    """The future of a submission that is stored already."""
    done: Future[None] = Future()
    done.set_result(None)
    return done


@dataclass(frozen=True)
class _Rows:
    """One accepted submission's rows: its message, documents, deliveries, outbox entries and audit entry."""

    key: str  # the idempotency key
    message: dict[str, Any]
    documents: list[dict[str, Any]]
    deliveries: list[dict[str, Any]]
    outbox: list[dict[str, Any]]
    audit: tuple[str, str, str, dict[str, Any]]


class _Duplicate(Exception):
    """The same submission committed concurrently: answer with the stored one."""
