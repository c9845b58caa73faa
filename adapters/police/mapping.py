"""The police dialect: every family table under `families/`, one namespace and XSD per family."""

from __future__ import annotations

from adapters.xmlcodec import XmlFormat, family_documents

POLICE_XML = XmlFormat("police", family_documents("adapters.police.families"), version_attribute="BBH")
