"""enrollment family in the police native format."""

from __future__ import annotations

from adapters.police.native import ATTACHMENTS, HEADER, PERSON, SENTENCE, SUPERVISION_LEVEL
from adapters.xmlcodec import COMPACT_DATE, Leaf, NativeDocument, payload

DOCUMENTS = (
    NativeDocument(
        "enrollment.registered",
        "RJDJXX",
        HEADER
        + PERSON
        + SENTENCE
        + payload(
            Leaf("RJRQ", "enrolled_on", COMPACT_DATE),
            Leaf("GKJB", "supervision_level", SUPERVISION_LEVEL),
            Leaf("ZFPC", "visit_schedule"),
            Leaf("XZSX", "task"),
            Leaf("JZZRR", "officer"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "enrollment.failed_to_report",
        "WASBDXX",
        HEADER
        + PERSON
        + payload(
            Leaf("BDQX", "report_by", COMPACT_DATE),
            Leaf("HCRQ", "checked_on", COMPACT_DATE),
            Leaf("QKSM", "circumstances"),
        )
        + ATTACHMENTS,
    ),
)
