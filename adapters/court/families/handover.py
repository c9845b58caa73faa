"""handover family in the court native format."""

from __future__ import annotations

from adapters.court.native import ATTACHMENTS, CASE, DOCUMENT_KIND, HEADER, PERSON, REPLY_HEADER, SENTENCE
from adapters.xmlcodec import ISO_DATE, Each, Leaf, NativeDocument, payload

DOCUMENTS = (
    NativeDocument(
        "handover.judgment_effective",
        "判决生效通知",
        HEADER
        + CASE
        + PERSON
        + SENTENCE
        + payload(
            Leaf("执行地行政区划代码", "execution_division"),
            Leaf("判决日期", "judgment_date", ISO_DATE),
            Leaf("生效日期", "effective_date", ISO_DATE),
            Leaf("报到期限", "report_by", ISO_DATE),
            Leaf("承办法官", "judge"),
            Leaf("联系电话", "contact_phone"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "handover.documents",
        "法律文书送达",
        HEADER
        + CASE
        + PERSON
        + SENTENCE
        + payload(
            Leaf("执行地行政区划代码", "execution_division"),
            Leaf("送达日期", "delivered_on", ISO_DATE),
            Leaf("备注", "remarks"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "handover.receipt",
        "送达回执",
        REPLY_HEADER
        + CASE
        + payload(
            Leaf("签收日期", "received_on", ISO_DATE),
            Each("已收文书/文书类型", "received_documents", codec=DOCUMENT_KIND),
            Leaf("签收人", "signed_by"),
            Leaf("备注", "remarks"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "handover.correction_request",
        "补正通知",
        REPLY_HEADER
        + CASE
        + payload(
            Each(
                "补正事项列表/补正事项",
                "missing",
                (Leaf("文书类型", "document_kind", DOCUMENT_KIND), Leaf("原因", "reason")),
            ),
            Leaf("补正期限", "due_on", ISO_DATE),
            Leaf("联系人", "contact"),
        )
        + ATTACHMENTS,
    ),
)
