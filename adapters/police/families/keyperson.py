"""keyperson family in the police native format: the station receives the 列管通知 and sends
the 列管回执 and the 动态信息 of the persons it lists."""

from __future__ import annotations

from adapters.police.native import ATTACHMENTS, HEADER, PERSON, REPLY_HEADER, SENTENCE, SUPERVISION_LEVEL, TIME, place
from adapters.xmlcodec import COMPACT_DATE, Leaf, NativeDocument, code_table, payload, under

CONTROL_LEVEL = code_table({"1": "key", "2": "attention", "3": "general"})  # LGJBDM 列管级别代码
EVENT_TYPE = code_table(  # DTLXDM 动态类型代码
    {"10": "detention", "20": "new_offence", "30": "sighting", "40": "address_change"}
)

DOCUMENTS = (
    NativeDocument(
        "keyperson.registration",
        "ZDRYLGTZXX",
        HEADER
        + PERSON
        + SENTENCE
        + payload(
            Leaf("RJRQ", "enrolled_on", COMPACT_DATE),
            Leaf("GKJB", "supervision_level", SUPERVISION_LEVEL),
            Leaf("FZSFS", "justice_office"),
            Leaf("JZZRR", "contact"),
            Leaf("JZZRRLXDH", "contact_phone"),
            Leaf("XZSX", "requests"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "keyperson.record",
        "ZDRYLGHZXX",
        REPLY_HEADER
        + PERSON
        + payload(
            Leaf("LGRQ", "listed_on", COMPACT_DATE),
            Leaf("ZRMJ", "officer"),
            Leaf("ZRMJLXDH", "officer_phone"),
            Leaf("LGJBDM", "control_level", CONTROL_LEVEL),
            Leaf("BZ", "remarks"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "keyperson.event",
        "ZDRYDTXX",
        HEADER
        + PERSON
        + payload(
            Leaf("DTLXDM", "event_type", EVENT_TYPE),
            Leaf("DTFSSJ", "occurred_at", TIME),
            Leaf("DTFSDD", "place"),
            Leaf("CZDW", "handling_unit"),
            Leaf("QKMS", "description"),
            *under("", "new_residence", place("XJZD")),
        )
        + ATTACHMENTS,
    ),
)
