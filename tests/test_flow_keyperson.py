"""Key persons end to end: the bureau's 列管通知 reaches the police station of the residence,
the station's 回执 comes back to the bureau and the 司法所, and the station's 动态 (a
detention, a move) reaches the bureau and the 司法所 of the residence at once."""

from __future__ import annotations

import json

import pytest
from lxml import etree

from tests.conftest import RunningGateway
from tests.flows import JUSTICE_BUREAU, SUNWU_OFFICE, SUNWU_STATION, answering, flow, sample

pytestmark = pytest.mark.broker


def test_registration_is_listed_and_the_record_reaches_bureau_and_office(fresh_gateway: RunningGateway) -> None:
    registration_id, received = flow(
        fresh_gateway,
        JUSTICE_BUREAU,
        "canonical",
        sample("canonical", "keyperson.registration.json"),
        {SUNWU_STATION: "keyperson.registration_to_station"},
    )
    root = etree.fromstring(received[SUNWU_STATION])
    assert etree.QName(root).localname == "ZDRYLGTZXX"
    assert root.findtext("{urn:xietong:police:keyperson:1}FZSFS") == "惠民县司法局孙武司法所"

    record = answering(sample("police", "keyperson.record.xml"), "police", registration_id)
    _, received = flow(
        fresh_gateway,
        SUNWU_STATION,
        "police",
        record,
        {JUSTICE_BUREAU: "keyperson.record_back", SUNWU_OFFICE: "keyperson.record_back"},
    )
    for unit in (JUSTICE_BUREAU, SUNWU_OFFICE):
        message = json.loads(received[unit])
        assert message["in_reply_to"] == registration_id
        assert (message["payload"]["officer"], message["payload"]["control_level"]) == ("赵磊", "attention")


@pytest.mark.parametrize(
    ("name", "event_type"),
    [("keyperson.event.xml", "detention"), ("keyperson.event.address_change.xml", "address_change")],
)
def test_an_event_reaches_the_bureau_and_the_office_of_the_residence(
    fresh_gateway: RunningGateway, name: str, event_type: str
) -> None:
    _, received = flow(
        fresh_gateway,
        SUNWU_STATION,
        "police",
        sample("police", name),
        {JUSTICE_BUREAU: "keyperson.event_alert", SUNWU_OFFICE: "keyperson.event_alert"},
    )
    alert = json.loads(received[SUNWU_OFFICE])
    assert alert["kind"] == "keyperson.event" and alert["payload"]["event_type"] == event_type
    assert alert["sender"]["unit_name"] == "惠民县公安局孙武派出所"
