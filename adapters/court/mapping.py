"""The court dialect: every family table under `families/`, one namespace and XSD per family."""

from __future__ import annotations

from adapters.xmlcodec import XmlFormat, family_documents

COURT_XML = XmlFormat("court", family_documents("adapters.court.families"), version_attribute="版本")
