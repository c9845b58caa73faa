"""oversight family in the procuratorate native format: the procuratorate sends its notice and
its conclusion, and receives the justice bureau's rectification replies."""

from __future__ import annotations

from adapters.procuratorate.native import ATTACHMENTS, CASE, HEADER, PERSON, REPLY_HEADER
from adapters.xmlcodec import ISO_DATE, Each, Leaf, NativeDocument, code_table, payload

NOTICE_TYPE = code_table({"10": "correction_notice", "11": "procuratorial_suggestion"})  # 同 WSLB 文书类别
OUTCOME = code_table({"1": "accepted", "2": "reopened"})  # 结论类别：1 采纳结案，2 继续督促

DOCUMENTS = (
    NativeDocument(
        "oversight.notice",
        "JCJDTZ",
        HEADER
        + CASE
        + payload(
            Leaf("WSLX", "notice_type", NOTICE_TYPE),
            Leaf("WSBH", "document_number"),
            Each("WTLB/WT", "problems", (Leaf("WTMS", "description"), Leaf("JZYJ", "requirement"))),
            Leaf("FLYJ", "legal_basis"),
            Leaf("FCRQ", "issued_on", ISO_DATE),
            Leaf("HFQX", "reply_by", ISO_DATE),
        )
        + PERSON
        + payload(
            Leaf("CBJCG", "prosecutor"),
            Leaf("LXDH", "contact_phone"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "oversight.rectification_reply",
        "ZGFK",
        REPLY_HEADER
        + CASE
        + payload(
            Each(
                "ZGCSLB/ZGCS",
                "measures",
                (Leaf("CSNR", "description"), Leaf("ZRR", "responsible"), Leaf("WCRQ", "completed_on", ISO_DATE)),
            ),
            Leaf("ZGJG", "results"),
            Leaf("FKRQ", "replied_on", ISO_DATE),
            Leaf("LXR", "contact"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "oversight.conclusion",
        "JDJL",
        REPLY_HEADER
        + CASE
        + payload(
            Leaf("JLLB", "outcome", OUTCOME),
            Leaf("LY", "reasons"),
            Leaf("JLRQ", "concluded_on", ISO_DATE),
            Leaf("HFQX", "reply_by", ISO_DATE),
        )
        + ATTACHMENTS,
    ),
)
