"""termination family in the procuratorate native format."""

from __future__ import annotations

from adapters.procuratorate.native import ATTACHMENTS, CASE, HEADER, PERSON, SENTENCE
from adapters.xmlcodec import ISO_DATE, Leaf, NativeDocument, code_table, payload

REASON = code_table({"1": "expiry", "2": "death", "3": "revocation", "9": "other"})  # JCZZYY 解除终止原因

DOCUMENTS = (
    NativeDocument(
        "termination.notice",
        "JCZZTZ",
        HEADER
        + CASE
        + PERSON
        + SENTENCE
        + payload(
            Leaf("JCZZYY", "reason", REASON),
            Leaf("JCZZRQ", "effective_on", ISO_DATE),
            Leaf("QKSM", "circumstances"),
            Leaf("JZQJBX", "conduct"),
        )
        + ATTACHMENTS,
    ),
)
