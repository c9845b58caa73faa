"""公安机关 XML (UTF-8, GBK or GB18030) -> canonical draft; pure, no I/O."""

from __future__ import annotations

from typing import Any

from adapters.police.mapping import POLICE_XML
from contracts.envelope import Draft


def parse(data: bytes) -> Draft[Any]:
    """Translate a 公安机关 document; refusals are `InboundError`s naming the line and element."""
    return POLICE_XML.parse(data)
