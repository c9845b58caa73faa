"""transfer family in the procuratorate native format: the procuratorates of both places
receive the decision in copy."""

from __future__ import annotations

from adapters.procuratorate.native import ATTACHMENTS, CASE, PERSON, PLACE, REPLY_HEADER, SENTENCE
from adapters.xmlcodec import ISO_DATE, Leaf, NativeDocument, payload, under

DOCUMENTS = (
    NativeDocument(
        "transfer.notice",
        "BGZXDTZ",
        REPLY_HEADER
        + CASE
        + PERSON
        + SENTENCE
        + under("XJZD", "payload.new_residence", PLACE)
        + payload(
            Leaf("BGLY", "reason"),
            Leaf("JDRQ", "decided_on", ISO_DATE),
            Leaf("BDQX", "report_by", ISO_DATE),
            Leaf("JSSFS", "receiving_office"),
        )
        + ATTACHMENTS,
    ),
)
