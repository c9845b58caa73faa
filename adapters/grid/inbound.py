"""Grid visit report JSON -> canonical draft; pure, no I/O.

The grid worker's app posts one JSON object (UTF-8) to `POST /v1/inbound/grid`, with photos as
multipart `attachments` named as in `photos`:

    {"task_id": "<message_id of the visit task answered>",
     "visited_at": "2025-05-20T15:30:00+08:00",     走访时间（带时区）
     "visitor": "李娜",                              走访人
     "met_person": true,                             是否见到本人
     "findings": {"living_situation": "…", "work": "…", "mood": "…"},   居住生活、工作、思想情绪
     "anomalies": ["…"],                             异常情况（可空）
     "follow_up_needed": false, "follow_up": "…",    是否需要跟进、跟进建议
     "photos": [{"filename": "走访照片1.jpg", "title": "入户走访", "sha256": "…"}]}   title、sha256 可省

The worker never sees the case number: the draft has no case, and the gateway takes it from the
task the report answers. Refusals are `InboundError`s: json_encoding_invalid, json_malformed,
field_invalid (the message names the field).
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any
from uuid import UUID

from pydantic import Field, ValidationError, field_validator

from adapters.base import InboundError, dotted, explain
from contracts.common import Contract, DocumentKind
from contracts.envelope import AttachmentClaim, Draft
from contracts.supervision import VisitReport

VISIT_REPORT = "supervision.visit_report"
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})


class Photo(Contract):
    filename: str = Field(min_length=1, max_length=255)
    title: str = Field(default="走访照片", min_length=1, max_length=200)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    @field_validator("filename")
    @classmethod
    def _an_image(cls, value: str) -> str:
        if PurePosixPath(value).suffix.lower() not in PHOTO_SUFFIXES:
            raise ValueError(f"照片“{value}”应为JPEG或PNG图片（.jpg、.jpeg、.png）")
        return value


class Submission(VisitReport):
    """The report as the grid sends it: the canonical report, the task it answers, its photos."""

    task_id: UUID
    photos: list[Photo] = Field(default=[], max_length=20)


def parse(data: bytes) -> Draft[Any]:
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InboundError("json_encoding_invalid", f"报文不是有效的UTF-8编码（第{exc.start}字节）") from None
    except json.JSONDecodeError as exc:
        raise InboundError(
            "json_malformed", f"JSON格式错误：第{exc.lineno}行第{exc.colno}列，{exc.msg}", line=exc.lineno
        ) from None
    except RecursionError:
        raise InboundError("json_malformed", "JSON嵌套层数过多") from None
    if not isinstance(document, dict):
        raise InboundError("json_malformed", "报文应为JSON对象（走访记录）")
    try:
        submission = Submission.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = dotted(first["loc"])
        raise InboundError("field_invalid", f"字段 {field}：{explain(first)}", field=field or None) from None
    report = VisitReport.model_validate(submission.model_dump(exclude={"task_id", "photos"}))
    return Draft[VisitReport](
        kind=VISIT_REPORT,
        in_reply_to=submission.task_id,
        occurred_at=report.visited_at,
        attachments=[
            AttachmentClaim(
                filename=photo.filename, title=photo.title, document_kind=DocumentKind.photo, sha256=photo.sha256
            )
            for photo in submission.photos
        ],
        payload=report,
    )
