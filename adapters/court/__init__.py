"""Court adapter (人民法院): sends the effective judgment and the legal documents, receives the
justice bureau's receipt, correction request and enrollment news."""

from adapters.base import Adapter
from adapters.court.inbound import parse
from adapters.court.mapping import COURT_XML
from adapters.court.outbound import render
from contracts.common import Agency

ADAPTER = Adapter(
    name="court",
    media_type="application/xml",
    parse=parse,
    render=render,
    kinds_in=COURT_XML.sent_by(Agency.court),
    kinds_out=COURT_XML.received_by(Agency.court),
    kind_of=COURT_XML.kind_of,
)
