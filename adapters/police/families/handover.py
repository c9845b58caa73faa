"""handover family in the police native format."""

from __future__ import annotations

from adapters.police.native import ATTACHMENTS, HEADER, PERSON, SENTENCE
from adapters.xmlcodec import COMPACT_DATE, Leaf, NativeDocument, payload

DOCUMENTS = (
    NativeDocument(
        "handover.judgment_effective",
        "PJSXXX",
        HEADER
        + PERSON
        + SENTENCE
        + payload(
            Leaf("ZXDXZQH", "execution_division"),
            Leaf("PJRQ", "judgment_date", COMPACT_DATE),
            Leaf("SXRQ", "effective_date", COMPACT_DATE),
            Leaf("BDQX", "report_by", COMPACT_DATE),
            Leaf("CBFG", "judge"),
            Leaf("CBFGLXDH", "contact_phone"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "handover.documents",
        "FLWSXX",
        HEADER
        + PERSON
        + SENTENCE
        + payload(
            Leaf("ZXDXZQH", "execution_division"),
            Leaf("SDRQ", "delivered_on", COMPACT_DATE),
            Leaf("BZ", "remarks"),
        )
        + ATTACHMENTS,
    ),
)
