"""enrollment family in the court native format."""

from __future__ import annotations

from adapters.court.native import ATTACHMENTS, CASE, HEADER, PERSON, SENTENCE, SUPERVISION_LEVEL
from adapters.xmlcodec import ISO_DATE, Leaf, NativeDocument, payload

DOCUMENTS = (
    NativeDocument(
        "enrollment.registered",
        "入矫登记通知",
        HEADER
        + CASE
        + PERSON
        + SENTENCE
        + payload(
            Leaf("入矫日期", "enrolled_on", ISO_DATE),
            Leaf("管理等级", "supervision_level", SUPERVISION_LEVEL),
            Leaf("走访频次", "visit_schedule"),
            Leaf("协助事项", "task"),
            Leaf("矫正责任人", "officer"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "enrollment.failed_to_report",
        "未按时报到通知",
        HEADER
        + CASE
        + PERSON
        + payload(
            Leaf("报到期限", "report_by", ISO_DATE),
            Leaf("核查日期", "checked_on", ISO_DATE),
            Leaf("情况说明", "circumstances"),
        )
        + ATTACHMENTS,
    ),
)
