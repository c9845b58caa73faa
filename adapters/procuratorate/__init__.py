"""Procuratorate adapter (人民检察院): legal oversight, so it receives a copy of every handover
and enrollment message. Its own kinds (纠正意见、检察建议) will be its first inbound kinds."""

from adapters.base import Adapter
from adapters.procuratorate.inbound import parse
from adapters.procuratorate.mapping import PROCURATORATE_XML
from adapters.procuratorate.outbound import render
from contracts.common import Agency

ADAPTER = Adapter(
    name="procuratorate",
    media_type="application/xml",
    parse=parse,
    render=render,
    kinds_in=PROCURATORATE_XML.sent_by(Agency.procuratorate),
    kinds_out=PROCURATORATE_XML.received_by(Agency.procuratorate),
    kind_of=PROCURATORATE_XML.kind_of,
)
