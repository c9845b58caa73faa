"""The HTTP interface: inbound submissions, the sender's view of a message, the recipient's inbox."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

import structlog
from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import select, update
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from adapters.base import explain, registry
from contracts.catalog import spec_of
from gateway import cases_api, console, live, meetings_api, obligations_api
from gateway.acceptance import Upload
from gateway.admission import BUSY, Admission, Shedding, says_live
from gateway.callers import ERRORS, Caller
from gateway.directory import UnitInfo
from gateway.errors import Refusal
from gateway.services import Services
from gateway.store import STORE_UNAVAILABLE, Audit, Delivery, MessageDocument, StoredMessage, Unit, unavailable_because, utcnow

log = structlog.get_logger(__name__)

STORE_RETRY_AFTER_SECONDS = 5  # a database restarting, or failing over, is back within seconds

class PlannedDeliveryOut(BaseModel):
    delivery_id: str
    recipient: str
    recipient_name: str
    role: str
    rule: str


class AcceptedOut(BaseModel):
    message_id: str
    kind: str
    duplicate: bool
    deliveries: list[PlannedDeliveryOut]


class Evidence(BaseModel):
    accepted_at: datetime
    published_at: datetime | None
    delivered_at: datetime | None
    retrieved_at: datetime | None
    acked_at: datetime | None
    pushed_at: datetime | None


class DeliveryStatus(BaseModel):
    delivery_id: str
    recipient: str
    recipient_name: str
    role: str
    rule: str
    status: str
    evidence: Evidence
    rendered_sha256: str | None
    attempts: int
    last_error: str | None


class MessageStatus(BaseModel):
    message_id: str
    kind: str
    title: str
    case_number: str
    received_at: datetime
    status: str
    deliveries: list[DeliveryStatus]


class InboxItem(BaseModel):
    delivery_id: str
    message_id: str
    kind: str
    title: str
    sender: str
    sender_name: str
    media_type: str
    delivered_at: datetime
    retrieved_at: datetime | None
    acked_at: datetime | None


STEPS = ("acked_at", "retrieved_at", "delivered_at", "published_at")


def delivery_status(delivery: Delivery) -> str:
    for step in STEPS:
        if getattr(delivery, step) is not None:
            return step.removesuffix("_at")
    return "accepted"


INBOUND_BODY = {
    "requestBody": {
        "required": True,
        "description": "原生报文（XML 或规范 JSON）；有附件时用 multipart/form-data：document 部分为报文，attachments 部分为附件（文件名须与报文附件列表一致）",
        "content": {
            "application/xml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["document"],
                    "properties": {
                        "document": {"type": "string", "format": "binary"},
                        "attachments": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    },
                }
            },
        },
    }
}




def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="协同 Xietong",
        version="1.0",
        description="社区矫正跨部门协同网关：各机关原生报文一次录入，按路由规则送达各方并以各方格式呈现。",
    )
    app.state.services = services
    app.state.live = live.Hub(services)
    settings = services.settings
    admission = Admission(settings.accept_threads, settings.accept_waiting_documents)

    @app.exception_handler(Refusal)
    async def _refusal(_request: Request, exc: Refusal) -> JSONResponse:
        return exc.response()

    async def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
        """The store cannot be reached or written now (`STORE_UNAVAILABLE`): nothing of the request
        was committed, so the sender may simply send it again. A 500 had told the clerk nothing and
        the sending system not to retry."""
        log.error("store.unavailable", path=request.url.path, error=unavailable_because(exc))
        message = f"数据存储暂时不可用，本次请求未被处理，请{STORE_RETRY_AFTER_SECONDS}秒后重试（同一报文重报不会重复）"
        return Refusal(503, "store_unavailable", message, retry_after=STORE_RETRY_AFTER_SECONDS).response()

    for unavailable in STORE_UNAVAILABLE:
        app.add_exception_handler(unavailable, _store_unavailable)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": ""}
        field = ".".join(str(p) for p in first["loc"])
        reason = explain(first) if "type" in first else ""
        return JSONResponse(Refusal(422, "request_invalid", f"请求参数 {field} 不正确：{reason}", field=field).body(), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: ("not_found", "没有这个地址"), 405: ("method_not_allowed", "不支持该请求方法")}
        code, message = codes.get(exc.status_code, ("http_error", str(exc.detail)))
        return JSONResponse(Refusal(exc.status_code, code, message).body(), exc.status_code)

    app.add_middleware(SessionMiddleware, secret_key=settings.console_secret, session_cookie=console.COOKIE, max_age=console.SESSION_SECONDS, path="/console", same_site="lax")
    app.add_middleware(Shedding, admission=admission, directory=services.directory)  # outermost: a refusal costs nothing more

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(
        "/v1/inbound/{adapter}",
        status_code=202,
        response_model=AcceptedOut,
        responses={**ERRORS, 503: BUSY},
        openapi_extra=INBOUND_BODY,
        summary="报送一份原生报文（可带附件）",
    )
    async def inbound(adapter: str, request: Request, unit: Caller) -> AcceptedOut:
        """Accepted (202) once stored with its deliveries; the same submission again gives the same message id."""
        try:
            _check_content_type(request, adapter)
            document, uploads = await _read_submission(request, settings.max_document_bytes, settings.max_attachments)
        except Refusal as refusal:
            await run_in_threadpool(services.acceptance.record_refusal, unit, adapter, b"", refusal)
            raise
        try:
            accepted = await admission.accept(says_live(unit, adapter, document), services.acceptance, unit, adapter, document, uploads)
        finally:
            for upload in uploads:
                upload.file.close()
        return AcceptedOut(
            message_id=accepted.message_id,
            kind=accepted.kind,
            duplicate=accepted.duplicate,
            deliveries=[PlannedDeliveryOut(**vars(v)) for v in accepted.deliveries],
        )

    @app.get("/v1/messages/{message_id}", response_model=MessageStatus, responses=ERRORS, summary="报文状态与每份送达的证据（仅发送单位可查）")
    def message_status(message_id: str, unit: Caller) -> MessageStatus:
        with services.store.read() as session:
            message = session.get(StoredMessage, message_id)
            if message is None or message.sender_code != unit.code:
                raise Refusal(404, "message_not_found", f"没有本单位发送的报文{message_id}")
            rows = session.execute(
                select(Delivery, Unit.name).join(Unit, Unit.code == Delivery.recipient_code).where(Delivery.message_id == message_id)
            ).all()
        deliveries = [
            DeliveryStatus(
                delivery_id=d.delivery_id,
                recipient=d.recipient_code,
                recipient_name=name,
                role=d.role,
                rule=d.rule,
                status=delivery_status(d),
                evidence=Evidence(
                    accepted_at=d.accepted_at,
                    published_at=d.published_at,
                    delivered_at=d.delivered_at,
                    retrieved_at=d.retrieved_at,
                    acked_at=d.acked_at,
                    pushed_at=d.pushed_at,
                ),
                rendered_sha256=d.rendered_sha256,
                attempts=d.attempts,
                last_error=d.last_error,
            )
            for d, name in rows
        ]
        delivered = all(d.evidence.delivered_at for d in deliveries)
        return MessageStatus(
            message_id=message.message_id,
            kind=message.kind,
            title=spec_of(message.kind).title,
            case_number=message.case_number,
            received_at=message.received_at,
            status="delivered" if delivered else "in_transit",
            deliveries=deliveries,
        )

    @app.get("/v1/inbox", response_model=list[InboxItem], responses=ERRORS, summary="本单位收件箱")
    def inbox(
        unit: Caller,
        pending: Annotated[bool, Query(description="只列未确认（未ack）的")] = False,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[InboxItem]:
        query = (
            select(Delivery, StoredMessage.kind, StoredMessage.sender_code, Unit.name)
            .join(StoredMessage, StoredMessage.message_id == Delivery.message_id)
            .join(Unit, Unit.code == StoredMessage.sender_code)
            .where(Delivery.recipient_code == unit.code, Delivery.delivered_at.is_not(None))
            .order_by(Delivery.delivered_at)
            .limit(limit)
        )
        if pending:
            query = query.where(Delivery.acked_at.is_(None))
        with services.store.read() as session:
            rows = session.execute(query).all()
        return [
            InboxItem(
                delivery_id=d.delivery_id,
                message_id=d.message_id,
                kind=kind,
                title=spec_of(kind).title,
                sender=sender,
                sender_name=sender_name,
                media_type=d.media_type or "",
                delivered_at=d.delivered_at,
                retrieved_at=d.retrieved_at,
                acked_at=d.acked_at,
            )
            for d, kind, sender, sender_name in rows
        ]

    def own_delivery(delivery_id: str, unit: UnitInfo) -> Delivery:
        with services.store.read() as session:
            delivery = session.get(Delivery, delivery_id)
        if delivery is None or delivery.recipient_code != unit.code or delivery.delivered_at is None:
            raise Refusal(404, "delivery_not_found", f"本单位收件箱中没有{delivery_id}")
        return delivery

    def record(delivery_id: str, unit: UnitInfo, column: str, event: str) -> None:
        with services.store.write() as session:
            done = session.execute(
                update(Delivery).where(Delivery.delivery_id == delivery_id, getattr(Delivery, column).is_(None)).values({column: utcnow()})
            ).rowcount
            if done:
                Audit(session).append(unit.code, event, delivery_id)

    @app.get(
        "/v1/inbox/{delivery_id}",
        responses={200: {"content": {"application/xml": {}, "application/json": {}}}, **ERRORS},
        summary="取回一份送达的报文（本单位格式）",
    )
    def inbox_item(delivery_id: str, unit: Caller) -> Response:
        delivery = own_delivery(delivery_id, unit)
        if delivery.retrieved_at is None:
            record(delivery_id, unit, "retrieved_at", "delivery.retrieved")
        return Response(
            delivery.rendered,
            media_type=delivery.media_type,
            headers={"X-Xietong-Message-Id": delivery.message_id, "X-Xietong-Sha256": delivery.rendered_sha256 or ""},
        )

    @app.get(
        "/v1/inbox/{delivery_id}/documents/{sha256}",
        response_class=FileResponse,
        responses=ERRORS,
        summary="下载送达报文所附的文书",
    )
    def inbox_document(delivery_id: str, sha256: str, unit: Caller) -> FileResponse:
        delivery = own_delivery(delivery_id, unit)
        if not services.router.may_see_documents(delivery.projection):
            raise Refusal(403, "documents_not_visible", "按规定本单位不可查阅该案法律文书")
        with services.store.read() as session:
            attached = session.get(MessageDocument, (delivery.message_id, sha256))
            body = session.get(StoredMessage, delivery.message_id)
        if attached is None or body is None:
            raise Refusal(404, "document_not_found", f"该送达没有sha256为{sha256}的附件")
        ref = next(d for d in spec_of(body.kind).message_model.model_validate_json(body.body).documents if d.sha256 == sha256)
        return FileResponse(services.folder.path_of(sha256), media_type=ref.media_type, filename=ref.filename, headers={"X-Xietong-Sha256": sha256})

    @app.post("/v1/inbox/{delivery_id}/ack", status_code=204, responses=ERRORS, summary="确认已处理（签收）")
    def ack(delivery_id: str, unit: Caller) -> Response:
        own_delivery(delivery_id, unit)
        record(delivery_id, unit, "acked_at", "delivery.acked")
        return Response(status_code=204)

    # after this module's own routes: a route is found by trying each in turn, and a submission
    # (the most frequent request by far) was tried against every route of the others first
    app.include_router(cases_api.router)
    app.include_router(live.router)
    app.include_router(obligations_api.router)
    app.include_router(meetings_api.router)
    app.include_router(console.router)
    return app


_BOUNDARY = re.compile(r'boundary\s*=\s*(?:"([^"]+)"|([^\s;]+))', re.IGNORECASE)


class ClosingDelimiter:
    """An ASGI receive that notes whether the multipart body's closing delimiter went past."""

    def __init__(self, receive: Any, delimiter: bytes) -> None:
        self.receive, self.delimiter, self.tail, self.seen = receive, delimiter, b"", False

    async def __call__(self) -> Any:
        message = await self.receive()
        if message.get("type") == "http.request" and not self.seen:
            window = self.tail + message.get("body", b"")
            self.seen = self.delimiter in window
            self.tail = window[-len(self.delimiter) :]
        return message


SUBMITTED_AS = {"application/xml": {"application/xml", "text/xml"}, "application/json": {"application/json"}}


def _check_content_type(request: Request, adapter_name: str) -> None:
    """A raw body must be declared as the adapter's format; multipart carries the document inside."""
    declared = request.headers.get("content-type", "").split(";")[0].strip().lower()
    adapter = registry().get(adapter_name)
    if adapter is None or declared == "multipart/form-data":
        return
    allowed = SUBMITTED_AS.get(adapter.media_type, {adapter.media_type})
    if declared not in allowed:
        raise Refusal(415, "content_type_unsupported", f"“{adapter_name}”适配器接收 {'、'.join(sorted(allowed))} 或 multipart/form-data，而不是“{declared or '未声明'}”")


async def _read_submission(request: Request, max_document: int, max_attachments: int) -> tuple[bytes, list[Upload]]:
    """The native document and its attachment parts, from a raw body or a multipart form."""
    content_type = request.headers.get("content-type", "")
    declared = request.headers.get("content-length")
    if not content_type.startswith("multipart/"):
        if declared and declared.isdigit() and int(declared) > max_document:
            raise Refusal(413, "document_too_large", f"报文超过{max_document}字节的上限")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_document:
                raise Refusal(413, "document_too_large", f"报文超过{max_document}字节的上限")
        return bytes(body), []
    boundary = _BOUNDARY.search(content_type)
    if boundary is None:
        raise Refusal(400, "multipart_invalid", "multipart 请求体不完整或格式错误：Content-Type 缺少 boundary 参数")
    closing = ClosingDelimiter(request.receive, b"--" + (boundary.group(1) or boundary.group(2)).encode("latin-1") + b"--")
    try:
        form = await Request(request.scope, closing).form(max_files=max_attachments + 1, max_fields=20, max_part_size=max_document)
    except Exception as exc:  # python-multipart and Starlette signal a broken body in several ways
        raise Refusal(400, "multipart_invalid", f"multipart 请求体不完整或格式错误：{exc}") from None
    if not closing.seen:  # python-multipart accepts a body cut short: its last part would be kept truncated
        await form.close()
        raise Refusal(400, "multipart_invalid", "multipart 请求体不完整：缺少结束分隔符（上传可能被截断）")
    document = form.get("document")
    if document is None:
        raise Refusal(422, "document_missing", "multipart 请求缺少 document 部分（报文本身）", field="document")
    if isinstance(document, UploadFile):
        raw = await document.read(max_document + 1)
        if len(raw) > max_document:
            raise Refusal(413, "document_too_large", f"报文超过{max_document}字节的上限")
    else:
        raw = document.encode("utf-8")
    uploads = []
    for part in form.getlist("attachments"):
        if not isinstance(part, UploadFile) or not part.filename:
            raise Refusal(422, "attachment_invalid", "attachments 部分须为带文件名的文件", field="attachments")
        uploads.append(Upload(part.filename, part.content_type, part.file))
    return raw, uploads
