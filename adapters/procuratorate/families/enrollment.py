"""enrollment family in the procuratorate native format."""

from __future__ import annotations

from adapters.procuratorate.native import ATTACHMENTS, CASE, HEADER, PERSON, SENTENCE, SUPERVISION_LEVEL
from adapters.xmlcodec import ISO_DATE, Leaf, NativeDocument, payload

DOCUMENTS = (
    NativeDocument(
        "enrollment.registered",
        "RJDJTZ",
        HEADER
        + CASE
        + PERSON
        + SENTENCE
        + payload(
            Leaf("RJRQ", "enrolled_on", ISO_DATE),
            Leaf("GLJB", "supervision_level", SUPERVISION_LEVEL),
            Leaf("ZFPC", "visit_schedule"),
            Leaf("XZSX", "task"),
            Leaf("JZZRR", "officer"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "enrollment.failed_to_report",
        "WASBDTZ",
        HEADER
        + CASE
        + PERSON
        + payload(
            Leaf("BDQX", "report_by", ISO_DATE),
            Leaf("HCRQ", "checked_on", ISO_DATE),
            Leaf("QKSM", "circumstances"),
        )
        + ATTACHMENTS,
    ),
)
