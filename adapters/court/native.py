"""The court's (人民法院) native format: Chinese element names, 男/女, dates YYYY-MM-DD, times
ISO 8601 with offset, attachments as `<附件 文件名=… 文书类型=… sha256=…>标题</附件>`.

The code tables and the blocks (header, person, sentence, attachments) that the family tables in
`families/` share.
"""

from __future__ import annotations

from adapters.xmlcodec import (
    INTEGER,
    ISO_DATE,
    ISO_DATETIME,
    Each,
    Leaf,
    OneOf,
    Row,
    code_table,
    under,
)
from contracts.common import DOCUMENT_TITLES

GENDER = code_table({"男": "male", "女": "female"})
YES_NO = code_table({"是": True, "否": False})
PENALTY = code_table({"有期徒刑": "fixed_term", "拘役": "detention", "管制": "surveillance"})
CORRECTION_TYPE = code_table(
    {"管制": "surveillance", "缓刑": "probation", "假释": "parole", "暂予监外执行": "medical_parole"}
)
DOCUMENT_KIND = code_table({title: kind.value for kind, title in DOCUMENT_TITLES.items()})  # the court names documents by title
SUPERVISION_LEVEL = code_table({"严管": "strict", "普管": "ordinary", "宽管": "lenient"})

HEADER: tuple[Row, ...] = under(
    "报文信息",
    "",
    (
        Leaf("报文标识", "message_id"),
        Leaf("发送单位", "sender.unit_name"),
        Leaf("发送单位/@代码", "sender.unit_code"),
        Leaf("发生时间", "occurred_at", ISO_DATETIME),
    ),
)
REPLY_HEADER: tuple[Row, ...] = (*HEADER, Leaf("报文信息/回复报文标识", "in_reply_to"))
CASE: tuple[Row, ...] = (Leaf("案号", "case.case_number"),)

PLACE: tuple[Row, ...] = (
    Leaf("行政区划代码", "division_code"),
    Leaf("区划代码", "area_code"),
    Leaf("详细地址", "address"),
)
PERSON: tuple[Row, ...] = under(
    "罪犯信息",
    "payload.person",
    (
        Leaf("姓名", "name"),
        Leaf("性别", "gender", GENDER),
        Leaf("民族", "ethnicity"),
        Leaf("出生日期", "birth_date", ISO_DATE),
        OneOf("id_number", "id_type", {"resident_id": "公民身份号码", "passport": "护照号码"}),
        Leaf("国籍", "nationality"),
        Leaf("未成年", "minor", YES_NO),
        *under("居住地", "residence", PLACE),
        *under("户籍地", "domicile", PLACE),
        Leaf("联系电话", "phone"),
    ),
)
SENTENCE: tuple[Row, ...] = under(
    "判决内容",
    "payload.sentence",
    (
        Leaf("罪名", "offence"),
        Leaf("主刑", "principal_penalty", PENALTY),
        Leaf("刑期月数", "term_months", INTEGER),
        Leaf("矫正类别", "correction_type", CORRECTION_TYPE),
        Leaf("缓刑考验期月数", "probation_months", INTEGER),
        Leaf("矫正起始日期", "correction_start", ISO_DATE),
        Leaf("矫正终止日期", "correction_end", ISO_DATE),
        Leaf("附加刑", "supplementary_penalty"),
        Leaf("禁止令", "prohibition_order"),
    ),
)
ATTACHMENTS: tuple[Row, ...] = (
    Each(
        "附件列表/附件",
        "documents",
        (
            Leaf("@文件名", "filename"),
            Leaf("@文书类型", "document_kind", DOCUMENT_KIND),
            Leaf("@sha256", "sha256"),
            Leaf("@大小", "size", INTEGER),
            Leaf("@媒体类型", "media_type"),
            Leaf(".", "title"),
        ),
    ),
)
