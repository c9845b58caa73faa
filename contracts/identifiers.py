"""Identifiers the agencies share, checked where they enter (python-stdnum does the check digits)."""

from __future__ import annotations

import os
import re
import time
import uuid
from functools import cache, lru_cache
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator
from stdnum import numdb
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError as StdnumError

_CASE_NUMBER = re.compile(
    r"（\d{4}）[\u4e00-\u9fff]{1,2}\d{0,4}[\u4e00-\u9fff]{1,8}\d{1,6}号(之[一二三四五六七八九十\d]+)?"  # 人民法院案号
    r"|[\u4e00-\u9fff]{2,16}〔\d{4}〕\d{1,20}号"  # 人民检察院受案号、文书号，如 惠检刑诉受〔2025〕37162100056号
    r"|[AJ]\d{22}"  # 公安机关案件编号：A（刑事、行政案件）或 J（警情）加 12 位机关代码、年月与序号
)


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7), so message ids sort by acceptance time.

    Python 3.11 has no uuid7; the layout is 48 bits of Unix milliseconds, version, 74 random bits.
    """
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value &= ~(0xF << 76)
    value |= 0x7 << 76
    value &= ~(0x3 << 62)
    value |= 0x2 << 62
    return uuid.UUID(int=value)


@cache
def _look_up_each_division_once() -> None:
    """stdnum finds an ID's birthplace by scanning its table of every division ever (~400 comparisons,
    a fifth of parsing a court document); the table is read-only, so each area code is looked up
    once. Done at the first ID checked, not at import: the table costs 5 MB, and the relay, which
    imports the contracts, never checks an ID."""
    divisions = numdb.get("cn/loc")
    divisions.info = lru_cache(maxsize=8192)(divisions.info)  # type: ignore[method-assign]


def _resident_id(value: str) -> str:
    """居民身份证号码 (GB 11643): 18 characters, check digit may be X; birth place is historical."""
    _look_up_each_division_once()
    try:
        return ric.validate(value)
    except StdnumError as exc:
        raise ValueError(f"居民身份证号码“{value}”无效：{_reason(exc)}") from exc


def _credit_code(value: str) -> str:
    """统一社会信用代码 (GB 32100) of an agency unit."""
    try:
        return uscc.validate(value)
    except StdnumError as exc:
        raise ValueError(f"统一社会信用代码“{value}”无效：{_reason(exc)}") from exc


def _reason(exc: StdnumError) -> str:
    return {
        "InvalidChecksum": "校验位错误",
        "InvalidLength": "长度不对",
        "InvalidFormat": "格式不对",
        "InvalidComponent": "出生日期或地址码不存在",
    }.get(type(exc).__name__, str(exc))


def _division_code(value: str) -> str:
    """行政区划代码 (GB/T 2260): 6 digits. Whether the directory knows it is the gateway's check."""
    if not re.fullmatch(r"\d{6}", value):
        raise ValueError(f"行政区划代码“{value}”应为6位数字")
    return value


def _area_code(value: str) -> str:
    """统计用区划代码: 9 digits (乡镇/街道) or 12 digits (村/社区), extending the division code."""
    if not re.fullmatch(r"\d{9}|\d{12}", value):
        raise ValueError(f"区划代码“{value}”应为9位（乡镇街道）或12位（村居）数字")
    return value


def _case_number(value: str) -> str:
    """The number the sending agency knows the case by: a court's 案号, or before trial the
    procuratorate's 受案号 or the police's 案件编号 (an evaluation is requested before sentence).
    Brackets typed half-width, or 〔〕 typed as [] or 【】, are normalised."""
    normalised = value.strip().replace("(", "（").replace(")", "）")
    normalised = normalised.replace("[", "〔").replace("]", "〕").replace("【", "〔").replace("】", "〕")
    if not _CASE_NUMBER.fullmatch(normalised):
        raise ValueError(f"案号“{value}”格式不对，应如（2025）鲁1621刑初123号、惠检刑诉受〔2025〕37162100056号或公安案件编号A3716215300002025030001")
    return normalised


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


ResidentId = Annotated[str, BeforeValidator(_strip), AfterValidator(_resident_id)]
CreditCode = Annotated[str, BeforeValidator(_strip), AfterValidator(_credit_code)]
DivisionCode = Annotated[str, BeforeValidator(_strip), AfterValidator(_division_code)]
AreaCode = Annotated[str, BeforeValidator(_strip), AfterValidator(_area_code)]
CaseNumber = Annotated[str, BeforeValidator(_strip), AfterValidator(_case_number)]


def mask_id_number(value: str) -> str:
    """What a grid worker may see of an ID: the first 6 and the last 4 characters."""
    return value[:6] + "*" * max(len(value) - 10, 0) + value[-4:]
