"""The court's (人民法院) native format: Chinese element names, 男/女, dates YYYY-MM-DD, times
ISO 8601 with offset, attachments as `<附件 文件名=… 文书类型=… sha256=…>标题</附件>`.

One table per kind, read by `parse` and written by `render`; the person, sentence, header and
attachment blocks are defined once and shared by the kinds.
"""

from __future__ import annotations

from adapters.xmlcodec import (
    INTEGER,
    ISO_DATE,
    ISO_DATETIME,
    Each,
    Leaf,
    NativeDocument,
    OneOf,
    Row,
    XmlFormat,
    code_table,
    payload,
    under,
)

GENDER = code_table({"男": "male", "女": "female"})
YES_NO = code_table({"是": True, "否": False})
PENALTY = code_table({"有期徒刑": "fixed_term", "拘役": "detention", "管制": "surveillance"})
CORRECTION_TYPE = code_table(
    {"管制": "surveillance", "缓刑": "probation", "假释": "parole", "暂予监外执行": "medical_parole"}
)
DOCUMENT_KIND = code_table(
    {
        "判决书": "judgment",
        "裁定书": "ruling",
        "决定书": "decision",
        "执行通知书": "execution_notice",
        "结案登记表": "case_closure_form",
        "起诉书": "indictment",
        "调查评估意见书": "evaluation_opinion",
        "其他": "other",
    }
)
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


DOCUMENTS = (
    NativeDocument(
        "handover.judgment_effective",
        "判决生效通知",
        HEADER
        + CASE
        + PERSON
        + SENTENCE
        + payload(
            Leaf("执行地行政区划代码", "execution_division"),
            Leaf("判决日期", "judgment_date", ISO_DATE),
            Leaf("生效日期", "effective_date", ISO_DATE),
            Leaf("报到期限", "report_by", ISO_DATE),
            Leaf("承办法官", "judge"),
            Leaf("联系电话", "contact_phone"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "handover.documents",
        "法律文书送达",
        HEADER
        + CASE
        + PERSON
        + SENTENCE
        + payload(
            Leaf("执行地行政区划代码", "execution_division"),
            Leaf("送达日期", "delivered_on", ISO_DATE),
            Leaf("备注", "remarks"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "handover.receipt",
        "送达回执",
        REPLY_HEADER
        + CASE
        + payload(
            Leaf("签收日期", "received_on", ISO_DATE),
            Each("已收文书/文书类型", "received_documents", codec=DOCUMENT_KIND),
            Leaf("签收人", "signed_by"),
            Leaf("备注", "remarks"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "handover.correction_request",
        "补正通知",
        REPLY_HEADER
        + CASE
        + payload(
            Each(
                "补正事项列表/补正事项",
                "missing",
                (Leaf("文书类型", "document_kind", DOCUMENT_KIND), Leaf("原因", "reason")),
            ),
            Leaf("补正期限", "due_on", ISO_DATE),
            Leaf("联系人", "contact"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "enrollment.registered",
        "入矫登记通知",
        HEADER
        + CASE
        + PERSON
        + SENTENCE
        + payload(
            Leaf("入矫日期", "enrolled_on", ISO_DATE),
            Leaf("管理等级", "supervision_level", SUPERVISION_LEVEL),
            Leaf("走访频次", "visit_schedule"),
            Leaf("协助事项", "task"),
            Leaf("矫正责任人", "officer"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "enrollment.failed_to_report",
        "未按时报到通知",
        HEADER
        + CASE
        + PERSON
        + payload(
            Leaf("报到期限", "report_by", ISO_DATE),
            Leaf("核查日期", "checked_on", ISO_DATE),
            Leaf("情况说明", "circumstances"),
        )
        + ATTACHMENTS,
    ),
)

COURT_XML = XmlFormat("court", DOCUMENTS, version_attribute="版本")
