"""Court adapter (人民法院): sends the effective judgment and the legal documents, receives the
justice bureau's receipt, correction request and enrollment news."""

from adapters.base import Adapter
from adapters.court.inbound import parse
from adapters.court.outbound import render

ADAPTER = Adapter(
    name="court",
    media_type="application/xml",
    parse=parse,
    render=render,
    kinds_in=frozenset({"handover.judgment_effective", "handover.documents"}),
    kinds_out=frozenset(
        {"handover.receipt", "handover.correction_request", "enrollment.registered", "enrollment.failed_to_report"}
    ),
)
