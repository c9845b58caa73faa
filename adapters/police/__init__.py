"""Police adapter (公安机关): receives the court's judgment and documents in copy, the enrollment
of a person to register as a key person (重点人员), and the failure to report, to search."""

from adapters.base import Adapter
from adapters.police.inbound import parse
from adapters.police.mapping import POLICE_XML
from adapters.police.outbound import render
from contracts.common import Agency

ADAPTER = Adapter(
    name="police",
    media_type="application/xml",
    parse=parse,
    render=render,
    kinds_in=POLICE_XML.sent_by(Agency.police),
    kinds_out=POLICE_XML.received_by(Agency.police),
    kind_of=POLICE_XML.kind_of,
)
