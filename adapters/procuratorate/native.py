"""The procuratorate's (人民检察院, 检察业务应用系统) native format: upper-case pinyin-initial
element names (AJBH 案号, XM 姓名, ZJHM 证件号码), numeric code tables, dates YYYY-MM-DD and
times `YYYY-MM-DD HH:MM:SS` in Beijing time.

The code tables and the blocks (header, person, sentence, attachments) that the family tables in
`families/` share.
"""

from __future__ import annotations

from adapters.xmlcodec import (
    ETHNICITY_GB_3304,
    GENDER_GBT_2261,
    INTEGER,
    ISO_DATE,
    Each,
    Leaf,
    Row,
    code_table,
    local_time,
    under,
)

YES_NO = code_table({"1": True, "0": False})
ID_TYPE = code_table({"111": "resident_id", "414": "passport"})  # 证件类型：居民身份证、普通护照
PENALTY = code_table({"1": "surveillance", "2": "detention", "3": "fixed_term"})  # 主刑，按刑法第三十三条次序
CORRECTION_TYPE = code_table({"01": "surveillance", "02": "probation", "03": "parole", "04": "medical_parole"})
DOCUMENT_KIND = code_table(
    {
        "01": "judgment",
        "02": "ruling",
        "03": "decision",
        "04": "execution_notice",
        "05": "case_closure_form",
        "06": "indictment",
        "07": "evaluation_opinion",
        "08": "evaluation_request",
        "09": "proposal",
        "10": "correction_notice",
        "11": "procuratorial_suggestion",
        "12": "termination_certificate",
        "13": "photo",
        "99": "other",
    }
)
SUPERVISION_LEVEL = code_table({"1": "strict", "2": "ordinary", "3": "lenient"})
TIME = local_time("%Y-%m-%d %H:%M:%S", "2025-03-18 09:30:00")

HEADER: tuple[Row, ...] = under(
    "BWXX",
    "",
    (
        Leaf("BWBS", "message_id"),
        Leaf("FSDWBM", "sender.unit_code"),
        Leaf("FSDWMC", "sender.unit_name"),
        Leaf("FSSJ", "occurred_at", TIME),
    ),
)
REPLY_HEADER: tuple[Row, ...] = (*HEADER, Leaf("BWXX/HFBWBS", "in_reply_to"))
CASE: tuple[Row, ...] = (Leaf("AJBH", "case.case_number"),)

PLACE: tuple[Row, ...] = (Leaf("XZQH", "division_code"), Leaf("QHDM", "area_code"), Leaf("DZMC", "address"))
PERSON: tuple[Row, ...] = under(
    "RYXX",
    "payload.person",
    (
        Leaf("XM", "name"),
        Leaf("XB", "gender", GENDER_GBT_2261),
        Leaf("MZ", "ethnicity", ETHNICITY_GB_3304),
        Leaf("CSRQ", "birth_date", ISO_DATE),
        Leaf("ZJLX", "id_type", ID_TYPE),
        Leaf("ZJHM", "id_number"),
        Leaf("GJ", "nationality"),
        Leaf("SFWCN", "minor", YES_NO),
        *under("JZD", "residence", PLACE),
        *under("HJD", "domicile", PLACE),
        Leaf("LXDH", "phone"),
    ),
)
SENTENCE: tuple[Row, ...] = under(
    "XFXX",
    "payload.sentence",
    (
        Leaf("ZM", "offence"),
        Leaf("ZX", "principal_penalty", PENALTY),
        Leaf("XQ", "term_months", INTEGER),
        Leaf("JZLB", "correction_type", CORRECTION_TYPE),
        Leaf("HXKYQ", "probation_months", INTEGER),
        Leaf("JZQSRQ", "correction_start", ISO_DATE),
        Leaf("JZZZRQ", "correction_end", ISO_DATE),
        Leaf("FJX", "supplementary_penalty"),
        Leaf("JZL", "prohibition_order"),
    ),
)
ATTACHMENTS: tuple[Row, ...] = (
    Each(
        "FJLB/FJ",
        "documents",
        (
            Leaf("WJMC", "filename"),
            Leaf("WSBT", "title"),
            Leaf("WSLB", "document_kind", DOCUMENT_KIND),
            Leaf("SHA256", "sha256"),
            Leaf("WJDX", "size", INTEGER),
            Leaf("MTLX", "media_type"),
        ),
    ),
)
