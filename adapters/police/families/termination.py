"""termination family in the police native format: the key-person registration ends."""

from __future__ import annotations

from adapters.police.native import ATTACHMENTS, HEADER, PERSON, SENTENCE
from adapters.xmlcodec import COMPACT_DATE, Leaf, NativeDocument, code_table, payload

REASON = code_table({"1": "expiry", "2": "death", "3": "revocation", "9": "other"})  # JCZZYYDM 解除终止原因代码

DOCUMENTS = (
    NativeDocument(
        "termination.notice",
        "JCZZXX",
        HEADER
        + PERSON
        + SENTENCE
        + payload(
            Leaf("JCZZYYDM", "reason", REASON),
            Leaf("JCZZRQ", "effective_on", COMPACT_DATE),
            Leaf("QKSM", "circumstances"),
            Leaf("JZQJBX", "conduct"),
        )
        + ATTACHMENTS,
    ),
)
