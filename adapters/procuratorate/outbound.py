"""Canonical message -> 人民检察院 XML (UTF-8); pure, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.procuratorate.mapping import PROCURATORATE_XML


def render(message: Mapping[str, Any]) -> bytes:
    """Render a (possibly projected) canonical message in JSON form as a 人民检察院 document."""
    return PROCURATORATE_XML.render(message)
