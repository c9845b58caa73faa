"""Grid workers (网格员): a JSON API that carries only what a visit needs.

Outbound, any kind routed to a grid becomes a visit task (`outbound`); inbound, the grid worker's
visit report answers a task (`inbound`). Both formats are documented in those modules.
"""

from adapters.base import Adapter
from adapters.grid.inbound import VISIT_REPORT, parse
from adapters.grid.outbound import render
from contracts.catalog import kinds
from contracts.common import Agency

ADAPTER = Adapter(
    name="grid",
    media_type="application/json",
    parse=parse,
    render=render,
    kinds_in=frozenset({VISIT_REPORT}),
    kinds_out=frozenset(kind for kind, spec in kinds().items() if Agency.grid not in spec.senders),
)
