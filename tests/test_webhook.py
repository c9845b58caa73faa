"""Optional webhook push: a unit with a webhook URL receives each delivery by POST as well."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import update

from gateway.broker_node import free_port
from gateway.store import Unit
from tests.conftest import RunningGateway
from tests.test_handover_flow import COURT, COURT_SAMPLES, PROCURATORATE, delivery_to, wait_delivered

pytestmark = pytest.mark.broker


class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def procuratorate_webhook(gateway: RunningGateway) -> Iterator[list[tuple[dict[str, str], bytes]]]:
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    store = gateway.store()
    with store.write() as session:
        session.execute(update(Unit).where(Unit.code == PROCURATORATE).values(webhook_url=f"http://127.0.0.1:{port}/xietong"))
    Receiver.received.clear()
    yield Receiver.received
    with store.write() as session:
        session.execute(update(Unit).where(Unit.code == PROCURATORATE).values(webhook_url=None))
    store.engine.dispose()
    server.shutdown()


def test_webhook_receives_the_rendered_document(gateway: RunningGateway, procuratorate_webhook: list[tuple[dict[str, str], bytes]]) -> None:
    document = (COURT_SAMPLES / "handover.judgment_effective.xml").read_bytes() + b"\n<!-- webhook -->\n"
    with gateway.client(COURT) as court:
        accepted = court.post("/v1/inbound/court", content=document, headers={"Content-Type": "application/xml"}).json()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not delivery_to(court.get(f"/v1/messages/{accepted['message_id']}").json(), PROCURATORATE)["evidence"]["pushed_at"]:
            time.sleep(0.1)
        status = wait_delivered(court, accepted["message_id"])
    pushed = delivery_to(status, PROCURATORATE)
    assert pushed["evidence"]["pushed_at"]
    headers, body = next((h, b) for h, b in procuratorate_webhook if h["X-Xietong-Delivery-Id"] == pushed["delivery_id"])
    assert headers["X-Xietong-Message-Id"] == accepted["message_id"]
    with gateway.client(PROCURATORATE) as procuratorate:
        assert procuratorate.get(f"/v1/inbox/{pushed['delivery_id']}").content == body
