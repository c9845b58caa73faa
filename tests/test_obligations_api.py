"""The court's evaluation request, submitted to a real gateway, makes the justice bureau owe an
opinion within 5 working days (速裁); the bureau's opinion meets it. Each unit sees only the
obligations of messages it sent or received."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway import obligations_api
from gateway.api import create_app
from gateway.obligations import china_date
from gateway.services import Services
from gateway.settings import Settings
from gateway.workdays import CalendarGap, add_working_days
from tests.conftest import RunningGateway
from tests.flows import COURT, JUSTICE_BUREAU, PROCURATORATE, SUNWU_STATION, answering, flow, sample

pytestmark = pytest.mark.broker

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(scope="module")
def api(fresh_gateway: RunningGateway) -> Iterator[TestClient]:
    """The gateway's own application over its store, with the obligations router included here
    until gateway/api.py includes it."""
    services = Services.build(Settings(data_dir=fresh_gateway.data_dir, broker_url=fresh_gateway.broker_url))
    app = create_app(services)
    app.include_router(obligations_api.router)
    yield TestClient(app)
    services.store.engine.dispose()


def owed(api: TestClient, gateway: RunningGateway, unit: str, status: str | None = None) -> list[dict[str, Any]]:
    response = api.get("/v1/obligations", params={"status": status} if status else {}, headers={"X-Api-Key": gateway.keys[unit]})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def test_the_bureau_owes_the_court_an_opinion_until_it_answers(fresh_gateway: RunningGateway, api: TestClient) -> None:
    request_id, _ = flow(
        fresh_gateway,
        COURT,
        "court",
        sample("court", "evaluation.request.xml"),
        {JUSTICE_BUREAU: "evaluation.request_to_bureau"},
        attachments={"起诉书.pdf": PDF},
    )

    [bureau] = owed(api, fresh_gateway, JUSTICE_BUREAU, "open")
    assert (bureau["rule"], bureau["opened_by"], bureau["side"], bureau["case_number"]) == (
        "evaluation.opinion",
        request_id,
        "owes",
        "（2025）鲁1621刑初215号",
    )
    assert ([p["unit_code"] for p in bureau["owed_by"]], [p["unit_code"] for p in bureau["owed_to"]]) == ([JUSTICE_BUREAU], [COURT])
    try:  # the sample is fast-track (速裁): five working days from the day the gateway received it
        expected = add_working_days(china_date(datetime.fromisoformat(bureau["opened_at"])), 5).isoformat()
    except CalendarGap:
        expected = None
    assert bureau["due_on"] == expected
    [court] = owed(api, fresh_gateway, COURT)
    assert (court["obligation_id"], court["side"]) == (bureau["obligation_id"], "owed")
    assert owed(api, fresh_gateway, PROCURATORATE) == []  # the request was not copied to it
    assert owed(api, fresh_gateway, SUNWU_STATION) == []
    assert owed(api, fresh_gateway, JUSTICE_BUREAU, "met") == []

    opinion = json.loads(answering(sample("canonical", "evaluation.opinion.json"), "canonical", request_id))
    opinion_id, _ = flow(
        fresh_gateway,
        JUSTICE_BUREAU,
        "canonical",
        json.dumps(opinion, ensure_ascii=False).encode(),
        {COURT: "evaluation.opinion_to_requester", PROCURATORATE: "evaluation.opinion_copy"},
        attachments={"调查评估意见书.pdf": PDF},
    )

    assert owed(api, fresh_gateway, JUSTICE_BUREAU, "open") == []
    [met] = owed(api, fresh_gateway, COURT, "met")
    assert (met["closed_by"], met["late"], met["escalated_at"]) == (opinion_id, False, None)
    assert owed(api, fresh_gateway, PROCURATORATE) == []  # a copy of the opinion is not the request


def test_an_unknown_status_is_refused_in_chinese(fresh_gateway: RunningGateway, api: TestClient) -> None:
    response = api.get("/v1/obligations", params={"status": "late"}, headers={"X-Api-Key": fresh_gateway.keys[COURT]})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "request_invalid"
    assert api.get("/v1/obligations").status_code == 401
