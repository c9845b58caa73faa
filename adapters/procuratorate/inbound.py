"""人民检察院 XML (UTF-8, GBK or GB18030) -> canonical draft; pure, no I/O."""

from __future__ import annotations

from typing import Any

from adapters.procuratorate.mapping import PROCURATORATE_XML
from contracts.envelope import Draft


def parse(data: bytes) -> Draft[Any]:
    """Translate a 人民检察院 document; refusals are `InboundError`s naming the line and element."""
    return PROCURATORATE_XML.parse(data)
