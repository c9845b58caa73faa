"""Canonical JSON: the justice bureau's own systems read and write the contract directly."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from adapters.base import Adapter, InboundError, ProjectedMessage, dotted, explain
from contracts.catalog import UnknownKind, kinds, spec_of
from contracts.envelope import Draft


def _document(data: bytes) -> dict[str, Any]:
    """The submission as a JSON object, or the refusal that says why not."""
    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InboundError("json_encoding_invalid", f"报文不是有效的UTF-8编码（第{exc.start}字节）") from None
    except json.JSONDecodeError as exc:
        raise InboundError("json_malformed", f"JSON格式错误：第{exc.lineno}行第{exc.colno}列，{exc.msg}", line=exc.lineno) from None
    except RecursionError:  # arrays or objects nested deeper than Python's stack: a 500 before this
        raise InboundError("json_malformed", "JSON嵌套层数过多") from None
    if not isinstance(document, dict):
        raise InboundError("json_malformed", "报文应为JSON对象")
    return document


def parse(data: bytes) -> Draft[Any]:
    document = _document(data)
    try:
        spec = spec_of(str(document.get("kind")))
    except UnknownKind as exc:
        raise InboundError("kind_unknown", str(exc), field="kind") from None
    try:
        return spec.draft_model.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = dotted(first["loc"])
        raise InboundError("field_invalid", f"字段 {field}：{explain(first)}", field=field) from None


def kind_of(data: bytes) -> str | None:
    try:
        kind = _document(data).get("kind")
    except InboundError:
        return None
    return kind if isinstance(kind, str) else None


def render(message: ProjectedMessage) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


ADAPTER = Adapter(
    name="canonical",
    media_type="application/json",
    parse=parse,
    render=render,
    kinds_in=frozenset(kinds()),
    kinds_out=frozenset(kinds()),
    kind_of=kind_of,
)
