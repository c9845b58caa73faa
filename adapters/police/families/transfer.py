"""transfer family in the police native format: the public security of both places and the
police station of the old residence move the key-person registration."""

from __future__ import annotations

from adapters.police.native import ATTACHMENTS, PERSON, REPLY_HEADER, SENTENCE, place
from adapters.xmlcodec import COMPACT_DATE, Leaf, NativeDocument, payload, under

DOCUMENTS = (
    NativeDocument(
        "transfer.notice",
        "BGZXDXX",
        REPLY_HEADER
        + PERSON
        + SENTENCE
        + under("", "payload.new_residence", place("XJZD"))
        + payload(
            Leaf("BGLY", "reason"),
            Leaf("JDRQ", "decided_on", COMPACT_DATE),
            Leaf("BDQX", "report_by", COMPACT_DATE),
            Leaf("JSSFS", "receiving_office"),
        )
        + ATTACHMENTS,
    ),
)
