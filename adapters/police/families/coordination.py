"""coordination family in the police native format: the committee's overdue notice (督办通知) reaches
the police station a deadline rule names (e.g. of the residence, for a missed report) and a police
unit that owes the obligation."""

from __future__ import annotations

from adapters.police.native import HEADER, PERSON
from adapters.xmlcodec import COMPACT_DATE, Each, Leaf, NativeDocument, code_table, payload, under

UNIT_TYPE = code_table(
    {
        "10": "court",
        "20": "procuratorate",
        "31": "public_security_bureau",
        "32": "police_station",
        "41": "justice_bureau",
        "42": "justice_office",
        "50": "grid",
        "60": "committee",
    }
)  # 单位类别代码


def unit(prefix: str) -> tuple[Leaf, ...]:
    """A unit as five data elements: JS 角色, DWLB 单位类别, QH 区划, DM 代码, MC 名称."""
    return (
        Leaf(f"{prefix}JS", "role"),
        Leaf(f"{prefix}DWLB", "unit_type", UNIT_TYPE),
        Leaf(f"{prefix}QH", "place"),
        Leaf(f"{prefix}DWDM", "unit_code"),
        Leaf(f"{prefix}DWMC", "unit_name"),
    )


DOCUMENTS = (
    NativeDocument(
        "coordination.overdue_notice",
        "DBTZXX",
        HEADER
        + payload(
            Leaf("YBSXBS", "obligation_id"),
            Leaf("YBSX", "title"),
            Leaf("YJ", "basis"),
            Leaf("DQRQ", "due_on", COMPACT_DATE),
            Each("YWRLB/YWR", "owed_by"),
            Each("XDFLB/XDF", "owed_to"),
            *under("", "owing_unit", unit("YW")),
            *under("", "alert_unit", unit("GZ")),
        )
        + PERSON
        + payload(Leaf("DBSX", "request")),
    ),
)
