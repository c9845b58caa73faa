"""supervision family in the police native format: alerts (协助查找) and risk warnings reach the
police station of the residence."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from adapters.police.native import ATTACHMENTS, HEADER, PERSON, SUPERVISION_LEVEL, TIME
from adapters.xmlcodec import COMPACT_DATE, Codec, Each, Leaf, NativeDocument, code_table, payload

ALERT_TYPE = code_table(
    {"01": "fence_breach", "02": "lost_contact", "03": "device_separated", "04": "failed_to_report", "05": "absconding"}
)  # 告警类型代码
RISK_LEVEL = code_table({"1": "high", "2": "medium", "3": "low"})  # 风险等级代码


def _degrees_in(text: str) -> float:
    try:
        return float(Decimal(text))
    except InvalidOperation:
        raise ValueError("不是有效的经纬度（十进制度）") from None


def _degrees_out(value: Any) -> str:
    """Plain decimal notation (xs:decimal has no exponent), with every digit the float holds."""
    return format(Decimal(repr(float(value))), "f")


DEGREES = Codec(_degrees_in, _degrees_out)  # JD 经度、WD 纬度（WGS-84 十进制度）

DOCUMENTS = (
    NativeDocument(
        "supervision.alert",
        "JGGJXX",
        HEADER
        + PERSON
        + payload(
            Leaf("GJLXDM", "alert_type", ALERT_TYPE),
            Leaf("GJSJ", "detected_at", TIME),
            Leaf("JD", "location.longitude", DEGREES),
            Leaf("WD", "location.latitude", DEGREES),
            Leaf("WZMS", "location.description"),
            Leaf("GKJB", "supervision_level", SUPERVISION_LEVEL),
            Leaf("XZSX", "assistance"),
            Leaf("GJSM", "details"),
        )
        + ATTACHMENTS,
    ),
    NativeDocument(
        "supervision.risk_warning",
        "FXYJXX",
        HEADER
        + PERSON
        + payload(
            Leaf("GKJB", "supervision_level", SUPERVISION_LEVEL),
            Leaf("FXDJDM", "risk_level", RISK_LEVEL),
            Each("FXYSLB/FXYS", "risk_factors"),
            Leaf("SFSCS", "measures.justice"),
            Leaf("GACS", "measures.police"),
            Leaf("WGCS", "measures.grid"),
            Leaf("YJYXQZ", "valid_until", COMPACT_DATE),
        )
        + ATTACHMENTS,
    ),
)
