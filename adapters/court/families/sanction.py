"""sanction family in the court native format: the court receives the revocation proposal and
answers with its ruling (裁定书) or, for medical parole, its remand decision (收监执行决定书)."""

from __future__ import annotations

from adapters.court.native import ATTACHMENTS, CASE, HEADER, PERSON, REPLY_HEADER, SENTENCE, YES_NO
from adapters.xmlcodec import ISO_DATE, Leaf, NativeDocument, code_table, payload

MEASURE = code_table({"撤销缓刑": "revoke_probation", "撤销假释": "revoke_parole", "收监执行": "remand"})
OUTCOME = code_table({"准予": "granted", "不予": "rejected"})

DOCUMENTS = (
    NativeDocument(
        "sanction.revocation_proposal",
        "撤销缓刑假释建议书",
        HEADER
        + CASE
        + PERSON
        + SENTENCE
        + payload(
            Leaf("建议事项", "measure", MEASURE),
            Leaf("违法违规事实", "facts"),
            Leaf("法律依据", "legal_basis"),
            Leaf("建议日期", "proposed_on", ISO_DATE),
            Leaf("建议书文号", "document_number"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "sanction.ruling",
        "撤销缓刑假释裁定书",
        REPLY_HEADER
        + CASE
        + PERSON
        + payload(
            Leaf("裁定事项", "measure", MEASURE),
            Leaf("裁定结果", "outcome", OUTCOME),
            Leaf("裁定日期", "decided_on", ISO_DATE),
            Leaf("是否收监", "remand_required", YES_NO),
            Leaf("裁定理由", "reasons"),
            Leaf("裁定书文号", "document_number"),
        )
        + ATTACHMENTS,
    ),
)
