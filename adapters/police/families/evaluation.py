"""evaluation family in the police native format: the police send the 委托函 (暂予监外执行 of a
prisoner held in a 看守所), the station of the residence answers the bureau's 协查函, and the
意见书 comes back to the police when they asked for it."""

from __future__ import annotations

from adapters.police.native import ATTACHMENTS, CORRECTION_TYPE, HEADER, PERSON, REPLY_HEADER, YES_NO, place
from adapters.xmlcodec import COMPACT_DATE, Each, Leaf, NativeDocument, code_table, payload, under

CONCLUSION = code_table({"1": "suitable", "2": "unsuitable"})  # PGJLDM 评估结论代码
INQUIRY_ITEM = code_table(  # XCSXDM 协查事项代码
    {"1": "criminal_record", "2": "conduct", "3": "family", "4": "residence"}
)

DOCUMENTS = (
    NativeDocument(
        "evaluation.request",
        "DCPGWTXX",
        HEADER
        + PERSON
        + payload(
            Leaf("ZM", "offence"),
            Leaf("NPXF", "proposed_sentence"),
            Leaf("NSYJZLBDM", "proposed_correction", CORRECTION_TYPE),
            Leaf("SFSC", "fast_track", YES_NO),
            Leaf("WTRQ", "requested_on", COMPACT_DATE),
            Leaf("WTDWLXR", "contact"),
            Leaf("WTDWLXDH", "contact_phone"),
            Leaf("BZ", "remarks"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "evaluation.inquiry",
        "DCPGXCXX",
        REPLY_HEADER
        + PERSON
        + payload(
            Each("XCSXLB/XCSXDM", "items", codec=INQUIRY_ITEM),
            Leaf("HFQX", "reply_by", COMPACT_DATE),
            Leaf("CBR", "contact"),
            Leaf("CBRLXDH", "contact_phone"),
            Leaf("BZ", "remarks"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "evaluation.inquiry_reply",
        "DCPGXCHFXX",
        REPLY_HEADER
        + payload(
            Leaf("WFFZJL", "criminal_record"),
            Leaf("SFSJJZ", "resides_at_address", YES_NO),
            Leaf("YGBX", "conduct"),
            Leaf("JTSHGX", "family"),
            Leaf("PCSYJ", "opinion"),
            Leaf("HCMJ", "officer"),
            Leaf("HCRQ", "checked_on", COMPACT_DATE),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "evaluation.opinion",
        "DCPGYJXX",
        REPLY_HEADER
        + PERSON
        + payload(
            Leaf("PGJLDM", "conclusion", CONCLUSION),
            Leaf("PGLY", "reasons"),
            *under("", "execution_place", place("NZXD")),
            Leaf("CJRQ", "issued_on", COMPACT_DATE),
            Leaf("JZJY", "recommendations"),
            Leaf("CBR", "contact"),
            Leaf("CBRLXDH", "contact_phone"),
        )
        + ATTACHMENTS,
    ),
)
