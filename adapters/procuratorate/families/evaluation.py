"""evaluation family in the procuratorate native format: the procuratorate sends the 委托函
(审查起诉中拟建议适用缓刑等) and receives the 意见书, as requester or as the copy."""

from __future__ import annotations

from adapters.procuratorate.native import (
    ATTACHMENTS,
    CASE,
    CORRECTION_TYPE,
    HEADER,
    PERSON,
    PLACE,
    REPLY_HEADER,
    YES_NO,
)
from adapters.xmlcodec import ISO_DATE, Leaf, NativeDocument, code_table, payload, under

CONCLUSION = code_table({"1": "suitable", "2": "unsuitable"})  # PGJL 评估结论：1 适宜，2 不适宜

DOCUMENTS = (
    NativeDocument(
        "evaluation.request",
        "DCPGWTH",
        HEADER
        + CASE
        + PERSON
        + payload(
            Leaf("ZM", "offence"),
            Leaf("LXJY", "proposed_sentence"),
            Leaf("NSYJZLB", "proposed_correction", CORRECTION_TYPE),
            Leaf("SFSC", "fast_track", YES_NO),
            Leaf("WTRQ", "requested_on", ISO_DATE),
            Leaf("CBR", "contact"),
            Leaf("LXDH", "contact_phone"),
            Leaf("BZ", "remarks"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "evaluation.opinion",
        "DCPGYJS",
        REPLY_HEADER
        + CASE
        + PERSON
        + payload(
            Leaf("PGJL", "conclusion", CONCLUSION),
            Leaf("PGLY", "reasons"),
            *under("NZXD", "execution_place", PLACE),
            Leaf("CJRQ", "issued_on", ISO_DATE),
            Leaf("JZJY", "recommendations"),
            Leaf("CBR", "contact"),
            Leaf("LXDH", "contact_phone"),
        )
        + ATTACHMENTS,
    ),
)
