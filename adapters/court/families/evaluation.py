"""evaluation family in the court native format: the court sends the 委托函 and receives the
意见书."""

from __future__ import annotations

from adapters.court.native import ATTACHMENTS, CASE, CORRECTION_TYPE, HEADER, PERSON, PLACE, REPLY_HEADER, YES_NO
from adapters.xmlcodec import ISO_DATE, Leaf, NativeDocument, code_table, payload, under

CONCLUSION = code_table({"适宜社区矫正": "suitable", "不适宜社区矫正": "unsuitable"})

DOCUMENTS = (
    NativeDocument(
        "evaluation.request",
        "调查评估委托函",
        HEADER
        + CASE
        + PERSON
        + payload(
            Leaf("罪名", "offence"),
            Leaf("拟判刑罚", "proposed_sentence"),
            Leaf("拟适用矫正类别", "proposed_correction", CORRECTION_TYPE),
            Leaf("速裁程序", "fast_track", YES_NO),
            Leaf("委托日期", "requested_on", ISO_DATE),
            Leaf("联系人", "contact"),
            Leaf("联系电话", "contact_phone"),
            Leaf("备注", "remarks"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "evaluation.opinion",
        "调查评估意见书",
        REPLY_HEADER
        + CASE
        + PERSON
        + payload(
            Leaf("评估结论", "conclusion", CONCLUSION),
            Leaf("评估理由", "reasons"),
            *under("拟执行地", "execution_place", PLACE),
            Leaf("出具日期", "issued_on", ISO_DATE),
            Leaf("矫正建议", "recommendations"),
            Leaf("联系人", "contact"),
            Leaf("联系电话", "contact_phone"),
        )
        + ATTACHMENTS,
    ),
)
