"""sanction family in the police native format: the public security bureau receives the penalty
proposal and answers with its decision, and receives the court's ruling to execute remand (收监)."""

from __future__ import annotations

from adapters.police.native import ATTACHMENTS, HEADER, PERSON, REPLY_HEADER, YES_NO
from adapters.xmlcodec import COMPACT_DATE, INTEGER, Leaf, NativeDocument, code_table, payload

PENALTY_OUTCOME = code_table({"1": "detention", "2": "fine", "0": "not_punished"})  # 处罚结果代码
REVOCATION_MEASURE = code_table({"1": "revoke_probation", "2": "revoke_parole", "3": "remand"})  # 裁定事项代码
RULING_OUTCOME = code_table({"1": "granted", "2": "rejected"})  # 裁定结果代码：1 准予，2 不予

DOCUMENTS = (
    NativeDocument(
        "sanction.penalty_proposal",
        "ZACFJYXX",
        HEADER
        + PERSON
        + payload(
            Leaf("WGSS", "facts"),
            Leaf("FLYJ", "legal_basis"),
            Leaf("JYCF", "proposed_measure"),
            Leaf("JYRQ", "proposed_on", COMPACT_DATE),
            Leaf("JYSWH", "document_number"),
            Leaf("LXR", "contact"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "sanction.penalty_decision",
        "ZACFJDXX",
        REPLY_HEADER
        + payload(
            Leaf("CFJGDM", "outcome", PENALTY_OUTCOME),
            Leaf("JLTS", "detention_days", INTEGER),
            Leaf("FKJE", "fine_yuan", INTEGER),
            Leaf("CFLY", "reasons"),
            Leaf("JDRQ", "decided_on", COMPACT_DATE),
            Leaf("JDSWH", "document_number"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "sanction.ruling",
        "CXHXJSCDXX",
        REPLY_HEADER
        + PERSON
        + payload(
            Leaf("CDSXDM", "measure", REVOCATION_MEASURE),
            Leaf("CDJGDM", "outcome", RULING_OUTCOME),
            Leaf("CDRQ", "decided_on", COMPACT_DATE),
            Leaf("SFSJ", "remand_required", YES_NO),
            Leaf("CDLY", "reasons"),
            Leaf("CDSWH", "document_number"),
        )
        + ATTACHMENTS,
    ),
)
