"""handover family in the procuratorate native format."""

from __future__ import annotations

from adapters.procuratorate.native import ATTACHMENTS, CASE, DOCUMENT_KIND, HEADER, PERSON, REPLY_HEADER, SENTENCE
from adapters.xmlcodec import ISO_DATE, Each, Leaf, NativeDocument, payload

DOCUMENTS = (
    NativeDocument(
        "handover.judgment_effective",
        "PJSXTZ",
        HEADER
        + CASE
        + PERSON
        + SENTENCE
        + payload(
            Leaf("ZXDXZQH", "execution_division"),
            Leaf("PJRQ", "judgment_date", ISO_DATE),
            Leaf("SXRQ", "effective_date", ISO_DATE),
            Leaf("BDQX", "report_by", ISO_DATE),
            Leaf("CBFG", "judge"),
            Leaf("LXDH", "contact_phone"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "handover.documents",
        "FLWSSD",
        HEADER
        + CASE
        + PERSON
        + SENTENCE
        + payload(
            Leaf("ZXDXZQH", "execution_division"),
            Leaf("SDRQ", "delivered_on", ISO_DATE),
            Leaf("BZ", "remarks"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "handover.receipt",
        "SDHZ",
        REPLY_HEADER
        + CASE
        + payload(
            Leaf("QSRQ", "received_on", ISO_DATE),
            Each("YSWS/WSLB", "received_documents", codec=DOCUMENT_KIND),
            Leaf("QSR", "signed_by"),
            Leaf("BZ", "remarks"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "handover.correction_request",
        "BZTZ",
        REPLY_HEADER
        + CASE
        + payload(
            Each("BZSXLB/BZSX", "missing", (Leaf("WSLB", "document_kind", DOCUMENT_KIND), Leaf("YY", "reason"))),
            Leaf("BZQX", "due_on", ISO_DATE),
            Leaf("LXR", "contact"),
        )
        + ATTACHMENTS,
    ),
)
