"""termination family in the court native format."""

from __future__ import annotations

from adapters.court.native import ATTACHMENTS, CASE, HEADER, PERSON, SENTENCE
from adapters.xmlcodec import ISO_DATE, Leaf, NativeDocument, code_table, payload

REASON = code_table(
    {
        "矫正期满解除": "expiry",
        "死亡终止": "death",
        "撤销缓刑假释或收监执行终止": "revocation",
        "其他": "other",
    }
)

DOCUMENTS = (
    NativeDocument(
        "termination.notice",
        "解除终止社区矫正通知",
        HEADER
        + CASE
        + PERSON
        + SENTENCE
        + payload(
            Leaf("解除终止原因", "reason", REASON),
            Leaf("解除终止日期", "effective_on", ISO_DATE),
            Leaf("情况说明", "circumstances"),
            Leaf("矫正期间表现", "conduct"),
        )
        + ATTACHMENTS,
    ),
)
