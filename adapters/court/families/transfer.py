"""transfer family in the court native format: the court, as the decision organ, is told of the
new place of execution."""

from __future__ import annotations

from adapters.court.native import ATTACHMENTS, CASE, PERSON, PLACE, REPLY_HEADER, SENTENCE
from adapters.xmlcodec import ISO_DATE, Leaf, NativeDocument, payload, under

DOCUMENTS = (
    NativeDocument(
        "transfer.notice",
        "变更执行地决定通知",
        REPLY_HEADER
        + CASE
        + PERSON
        + SENTENCE
        + under("新居住地", "payload.new_residence", PLACE)
        + payload(
            Leaf("变更理由", "reason"),
            Leaf("决定日期", "decided_on", ISO_DATE),
            Leaf("报到期限", "report_by", ISO_DATE),
            Leaf("接收司法所", "receiving_office"),
        )
        + ATTACHMENTS,
    ),
)
