"""The procuratorate dialect: every family table under `families/`, one namespace and XSD per family."""

from __future__ import annotations

from adapters.xmlcodec import XmlFormat, family_documents

PROCURATORATE_XML = XmlFormat("procuratorate", family_documents("adapters.procuratorate.families"), version_attribute="BBH")
