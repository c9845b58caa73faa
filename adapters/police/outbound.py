"""Canonical message -> 公安机关 XML (UTF-8); pure, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.police.mapping import POLICE_XML


def render(message: Mapping[str, Any]) -> bytes:
    """Render a (possibly projected) canonical message in JSON form as a 公安机关 document."""
    return POLICE_XML.render(message)
