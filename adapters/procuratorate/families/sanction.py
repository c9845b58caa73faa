"""sanction family in the procuratorate native format: the procuratorate receives a copy of every
warning, penalty proposal and decision, revocation proposal and ruling (法律监督)."""

from __future__ import annotations

from adapters.procuratorate.native import ATTACHMENTS, CASE, HEADER, PERSON, REPLY_HEADER, SENTENCE, YES_NO
from adapters.xmlcodec import INTEGER, ISO_DATE, Leaf, NativeDocument, code_table, payload

WARNING_MEASURE = code_table({"1": "admonition", "2": "warning"})  # 措施类别：1 训诫，2 警告
PENALTY_OUTCOME = code_table({"1": "detention", "2": "fine", "0": "not_punished"})  # 处罚结果
REVOCATION_MEASURE = code_table({"1": "revoke_probation", "2": "revoke_parole", "3": "remand"})
RULING_OUTCOME = code_table({"1": "granted", "2": "rejected"})  # 裁定结果：1 准予，2 不予

DOCUMENTS = (
    NativeDocument(
        "sanction.warning",
        "XJJGJD",
        HEADER
        + CASE
        + PERSON
        + payload(
            Leaf("CSLB", "measure", WARNING_MEASURE),
            Leaf("WGSS", "facts"),
            Leaf("FLYJ", "legal_basis"),
            Leaf("JDRQ", "decided_on", ISO_DATE),
            Leaf("WSBH", "document_number"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "sanction.penalty_proposal",
        "ZACFJYS",
        HEADER
        + CASE
        + PERSON
        + payload(
            Leaf("WGSS", "facts"),
            Leaf("FLYJ", "legal_basis"),
            Leaf("JYCF", "proposed_measure"),
            Leaf("JYRQ", "proposed_on", ISO_DATE),
            Leaf("WSBH", "document_number"),
            Leaf("LXR", "contact"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "sanction.penalty_decision",
        "ZACFJD",
        REPLY_HEADER
        + CASE
        + payload(
            Leaf("CFJG", "outcome", PENALTY_OUTCOME),
            Leaf("JLTS", "detention_days", INTEGER),
            Leaf("FKJE", "fine_yuan", INTEGER),
            Leaf("LY", "reasons"),
            Leaf("JDRQ", "decided_on", ISO_DATE),
            Leaf("WSBH", "document_number"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "sanction.revocation_proposal",
        "CXHXJSJYS",
        HEADER
        + CASE
        + PERSON
        + SENTENCE
        + payload(
            Leaf("JYSX", "measure", REVOCATION_MEASURE),
            Leaf("WGSS", "facts"),
            Leaf("FLYJ", "legal_basis"),
            Leaf("JYRQ", "proposed_on", ISO_DATE),
            Leaf("WSBH", "document_number"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "sanction.ruling",
        "CXHXJSCD",
        REPLY_HEADER
        + CASE
        + PERSON
        + payload(
            Leaf("CDSX", "measure", REVOCATION_MEASURE),
            Leaf("CDJG", "outcome", RULING_OUTCOME),
            Leaf("CDRQ", "decided_on", ISO_DATE),
            Leaf("SFSJ", "remand_required", YES_NO),
            Leaf("CDLY", "reasons"),
            Leaf("WSBH", "document_number"),
        )
        + ATTACHMENTS,
    ),
)
