"""Court XML (UTF-8, GBK or GB18030) -> canonical draft; pure, no I/O."""

from __future__ import annotations

from typing import Any

from adapters.court.mapping import COURT_XML
from contracts.envelope import Draft


def parse(data: bytes) -> Draft[Any]:
    """Translate a court document; refusals are `InboundError`s naming the line and element."""
    return COURT_XML.parse(data)
