"""What every adapter offers the gateway: pure translation both ways, and typed errors.

The gateway finds adapters through `registry()`; each adapter package exposes `ADAPTER`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from contracts.envelope import Draft


class InboundError(ValueError):
    """A native document the gateway must refuse, with what a clerk needs to fix it.

    `code` is stable (clients branch on it); `message` is Chinese, for the clerk;
    `line` and `field` locate the problem in the native document when known.
    """

    def __init__(self, code: str, message: str, *, line: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.line = line
        self.field = field

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "line": self.line, "field": self.field}


class UnsupportedKind(LookupError):
    """The adapter has no mapping for this kind in this direction."""

    def __init__(self, adapter: str, kind: str) -> None:
        super().__init__(f"adapter {adapter} cannot translate {kind}")
        self.adapter = adapter
        self.kind = kind


ProjectedMessage = Mapping[str, Any]
"""A canonical message in JSON form, already cut down to what its recipient may see."""


@dataclass(frozen=True)
class Adapter:
    """An agency's native format: `parse` native bytes into a draft, `render` a message into them."""

    name: str
    media_type: str
    parse: Callable[[bytes], Draft[Any]]
    render: Callable[[ProjectedMessage], bytes]
    kinds_in: frozenset[str]
    kinds_out: frozenset[str]
    # The kind a document says it is, read cheaply and checked by nothing (None: cannot tell), so
    # that the API can let an alert pass the queue of documents before anything is parsed.
    kind_of: Callable[[bytes], str | None] = lambda _data: None


@cache
def registry() -> dict[str, Adapter]:
    import adapters

    found: dict[str, Adapter] = {}
    for info in pkgutil.iter_modules(adapters.__path__):
        if info.ispkg:
            adapter = getattr(importlib.import_module(f"adapters.{info.name}"), "ADAPTER", None)
            if adapter is not None:
                found[adapter.name] = adapter
    return found


_PYDANTIC_ZH = {
    "missing": "缺少必填项",
    "extra_forbidden": "不允许的字段",
    "string_too_short": "内容过短或为空",
    "string_too_long": "内容过长",
    "string_pattern_mismatch": "格式不对",
    "enum": "取值不在允许范围内",
    "literal_error": "取值不在允许范围内",
    "date_from_datetime_parsing": "日期格式不对，应为YYYY-MM-DD",
    "date_parsing": "日期格式不对，应为YYYY-MM-DD",
    "datetime_parsing": "时间格式不对，应为ISO 8601",
    "datetime_from_date_parsing": "时间格式不对，应为ISO 8601",
    "int_parsing": "应为整数",
    "uuid_parsing": "应为报文编号（UUID）",
    "too_short": "至少应有一项",
    "greater_than_equal": "数值过小",
    "less_than_equal": "数值过大",
    "greater_than": "数值过小",
    "less_than": "数值过大",
    "timezone_aware": "时间须带时区，如2025-05-19T15:30:00+08:00",
    "bool_parsing": "应为true或false",
    "bool_type": "应为true或false",
    "string_type": "应为文本",
    "int_type": "应为整数",
    "float_parsing": "应为数值",
    "float_type": "应为数值",
    "list_type": "应为列表",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "model_attributes_type": "应为对象",
    "too_long": "项数过多",
    "date_type": "日期格式不对，应为YYYY-MM-DD",
    "datetime_type": "时间格式不对，应为ISO 8601",
    "enum_type": "取值不在允许范围内",
    "uuid_type": "应为报文编号（UUID）",
}


def explain(error: Mapping[str, Any]) -> str:
    """A pydantic error in words a clerk reads: our validators already speak Chinese."""
    if error["type"] == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "too_long" and "max_length" in error.get("ctx", {}):
        return f"最多{error['ctx']['max_length']}项"
    return _PYDANTIC_ZH.get(error["type"], str(error["msg"]))


def dotted(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)
