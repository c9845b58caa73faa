"""The dead-letter view: a push that failed every attempt is shown to the unit it was meant for
and to the sender, with the error an operator acts on, and to nobody else."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext
from sqlalchemy import select, update

from gateway.broker_node import RabbitNode, free_port
from gateway.store import Delivery, Unit
from tests.browser.conftest import screenshot, sign_in
from tests.browser.test_console_pages import reload_until
from tests.conftest import RunningGateway, gateway_in_vhost
from tests.flows import COURT, PROCURATORATE, SUNWU_STATION, delivery_to, wait_delivered
from tests.test_dlq import dead_count, wait_for
from tests.test_handover_flow import submit_documents

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def parking_gateway(rabbit: RabbitNode, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    extra = {"XIETONG_DELIVERY_ATTEMPTS": "2", "XIETONG_RETRY_DELAYS_MS": "[200]"}
    with gateway_in_vhost(rabbit, tmp_path_factory.mktemp("console-dlq"), "xietong-console-dlq", extra) as gateway:
        yield gateway


def test_a_parked_push_is_shown_to_its_recipient_and_sender_and_to_nobody_else(browser: BrowserContext, parking_gateway: RunningGateway) -> None:
    gateway, store = parking_gateway, parking_gateway.store()
    with store.write() as session:  # the procuratorate's system is down: every push is refused
        session.execute(update(Unit).where(Unit.code == PROCURATORATE).values(webhook_url=f"http://127.0.0.1:{free_port()}/xietong"))
    accepted = submit_documents(gateway)
    assert accepted.status_code == 202, accepted.text
    with gateway.client(COURT) as court:
        delivery_id = delivery_to(wait_delivered(court, accepted.json()["message_id"]), PROCURATORATE)["delivery_id"]

    def parked() -> bool:
        with store.read() as session:
            return bool(session.scalar(select(Delivery.last_error).where(Delivery.delivery_id == delivery_id))) and dead_count(gateway) == 1

    assert wait_for(parked)
    store.engine.dispose()

    for unit in (PROCURATORATE, COURT):
        page = sign_in(browser, gateway, unit, "/console/dlq")
        row = reload_until(page, "#dead-letters", delivery_id)
        assert delivery_id in row and "ConnectError" in row and "惠民县人民检察院" in row and "惠民县人民法院" in row
        screenshot(page, f"dead-letters-{unit}")
        browser.clear_cookies()

    page = sign_in(browser, gateway, SUNWU_STATION, "/console/dlq")
    assert delivery_id not in page.content() and "没有本单位可见的死信" in page.inner_text("#dead-letters")
