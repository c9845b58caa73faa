"""Canonical message -> court XML (UTF-8); pure, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.court.mapping import COURT_XML


def render(message: Mapping[str, Any]) -> bytes:
    """Render a (possibly projected) canonical message in JSON form as a court document."""
    return COURT_XML.render(message)
