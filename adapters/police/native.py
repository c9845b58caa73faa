"""The police's (公安机关) native format, in the style of GA/T data elements: flat records of
pinyin-initial identifiers (XM 姓名, GMSFHM 公民身份号码, XBDM 性别代码, MZDM 民族代码), national
code tables, dates YYYYMMDD and times YYYYMMDDhhmmss in Beijing time.

The code tables and the blocks (header, person, sentence, attachments) that the family tables in
`families/` share.
"""

from __future__ import annotations

from adapters.xmlcodec import (
    COMPACT_DATE,
    ETHNICITY_GB_3304,
    GENDER_GBT_2261,
    INTEGER,
    Each,
    Leaf,
    OneOf,
    Row,
    code_table,
    local_time,
    under,
)

YES_NO = code_table({"1": True, "0": False})
PENALTY = code_table({"1": "surveillance", "2": "detention", "3": "fixed_term"})  # 主刑代码
CORRECTION_TYPE = code_table({"1": "surveillance", "2": "probation", "3": "parole", "4": "medical_parole"})
DOCUMENT_KIND = code_table(
    {
        "10": "judgment",
        "11": "ruling",
        "12": "decision",
        "20": "execution_notice",
        "30": "case_closure_form",
        "40": "indictment",
        "50": "evaluation_opinion",
        "51": "evaluation_request",
        "60": "proposal",
        "70": "correction_notice",
        "71": "procuratorial_suggestion",
        "80": "termination_certificate",
        "90": "photo",
        "99": "other",
    }
)
SUPERVISION_LEVEL = code_table({"1": "strict", "2": "ordinary", "3": "lenient"})  # 管控级别
TIME = local_time("%Y%m%d%H%M%S", "20250318093000")

HEADER: tuple[Row, ...] = (
    Leaf("XXZJBH", "message_id"),
    Leaf("FSDWDM", "sender.unit_code"),
    Leaf("FSDWMC", "sender.unit_name"),
    Leaf("FSSJ", "occurred_at", TIME),
    Leaf("AJBH", "case.case_number"),
)
REPLY_HEADER: tuple[Row, ...] = (*HEADER, Leaf("HFXXZJBH", "in_reply_to"))  # 回复信息主键编号


def place(prefix: str) -> tuple[Row, ...]:
    """A place as three data elements: JZDXZQH 居住地行政区划, JZDQHDM 区划代码, JZDZ 居住地址."""
    return (Leaf(f"{prefix}XZQH", "division_code"), Leaf(f"{prefix}QHDM", "area_code"), Leaf(f"{prefix}Z", "address"))


PERSON: tuple[Row, ...] = under(
    "",
    "payload.person",
    (
        Leaf("XM", "name"),
        Leaf("XBDM", "gender", GENDER_GBT_2261),
        Leaf("MZDM", "ethnicity", ETHNICITY_GB_3304),
        Leaf("CSRQ", "birth_date", COMPACT_DATE),
        OneOf("id_number", "id_type", {"resident_id": "GMSFHM", "passport": "HZHM"}),
        Leaf("GJDM", "nationality"),
        Leaf("SFWCNR", "minor", YES_NO),
        *under("", "residence", place("JZD")),
        *under("", "domicile", place("HJD")),
        Leaf("LXDH", "phone"),
    ),
)
SENTENCE: tuple[Row, ...] = under(
    "",
    "payload.sentence",
    (
        Leaf("ZM", "offence"),
        Leaf("ZXDM", "principal_penalty", PENALTY),
        Leaf("XQYS", "term_months", INTEGER),
        Leaf("JZLBDM", "correction_type", CORRECTION_TYPE),
        Leaf("HXKYQYS", "probation_months", INTEGER),
        Leaf("JZQSRQ", "correction_start", COMPACT_DATE),
        Leaf("JZZZRQ", "correction_end", COMPACT_DATE),
        Leaf("FJX", "supplementary_penalty"),
        Leaf("JZLNR", "prohibition_order"),
    ),
)
ATTACHMENTS: tuple[Row, ...] = (
    Each(
        "FJLB/FJ",
        "documents",
        (
            Leaf("WJMC", "filename"),
            Leaf("WJBT", "title"),
            Leaf("WSLBDM", "document_kind", DOCUMENT_KIND),
            Leaf("WJHXZ", "sha256"),
            Leaf("WJDX", "size", INTEGER),
            Leaf("MTLX", "media_type"),
        ),
    ),
)
