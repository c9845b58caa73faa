"""No endpoint gives a grid worker anything outside its projection.

The grid receives the enrollment, an alert, a risk warning and a visit task for people of its
grid, and the court's handover of the same case goes elsewhere. Then every GET operation of the
OpenAPI schema is called with the grid's key, with every identifier the grid could know or
guess, and no answer may contain a full ID number, a case number, the offence, a person key,
alert coordinates or a legal document. A new GET endpoint fails this test until it is covered.
"""

from __future__ import annotations

import hashlib
import json
import re
from itertools import product

import httpx
import pytest
from stdnum.cn import ric

from gateway.store import Delivery, StoredMessage
from tests.conftest import RunningGateway
from tests.flows import COMMITTEE, COURT, JUSTICE_BUREAU, SUNWU_OFFICE, WUDINGFU_GRID, sample, submit, wait_delivered
from tests.test_handover_flow import ATTACHMENTS, COURT_SAMPLES, submit_documents

pytestmark = pytest.mark.broker

SUBMISSIONS = (
    (JUSTICE_BUREAU, "enrollment.registered.json"),
    (JUSTICE_BUREAU, "supervision.alert.json"),
    (JUSTICE_BUREAU, "supervision.risk_warning.json"),
    (SUNWU_OFFICE, "supervision.visit_task.json"),
)
REPLAY_ALL = "2000-01-01T00:00:00+00:00/0"  # a Last-Event-ID before everything: the whole history


def secrets_of(documents: list[dict[str, object]]) -> set[str]:
    """What the grid may never read: full IDs, case numbers, offences, coordinates, person keys."""
    found: set[str] = set()
    for document in documents:
        text = json.dumps(document, ensure_ascii=False)
        found |= {number for number in re.findall(r"\d{17}[\dX]", text) if ric.is_valid(number)}
        found |= set(re.findall(r"（\d{4}）[^\"]*?号", text))
        found |= set(re.findall(r'"offence": "([^"]+)"', text))
        found |= set(re.findall(r'"(?:longitude|latitude)": ([\d.]+)', text))
    return found


def test_no_endpoint_gives_the_grid_a_field_outside_its_projection(fresh_gateway: RunningGateway) -> None:
    gateway = fresh_gateway
    documents = submit_documents(gateway)
    assert documents.status_code == 202, documents.text
    message_ids = [documents.json()["message_id"]]
    for unit, name in SUBMISSIONS:
        response = submit(gateway, unit, "canonical", sample("canonical", name))
        assert response.status_code == 202, response.text
        message_ids.append(response.json()["message_id"])
    for message_id, (unit, _) in zip(message_ids, ((COURT, ""), *SUBMISSIONS), strict=True):
        with gateway.client(unit) as client:
            assert wait_delivered(client, message_id)["status"] == "delivered"

    store = gateway.store()
    with store.read() as session:
        bodies = [json.loads(m.body) for m in session.query(StoredMessage).all()]
        grid_deliveries = [d.delivery_id for d in session.query(Delivery).filter(Delivery.recipient_code == WUDINGFU_GRID)]
        all_deliveries = [d.delivery_id for d in session.query(Delivery)]
    store.engine.dispose()
    assert len(grid_deliveries) == len(SUBMISSIONS)
    secrets = secrets_of(bodies) | {b["case"]["person_key"] for b in bodies if b["case"]["person_key"]}
    shas = [hashlib.sha256((COURT_SAMPLES / name).read_bytes()).hexdigest() for name in ATTACHMENTS]
    secrets |= set(shas)
    assert "372321198506120019" in secrets and "（2025）鲁1621刑初123号" in secrets and "危险驾驶罪" in secrets

    # The committee takes the case to the joint meeting: the grid sees neither the issue nor its case.
    with gateway.client(COMMITTEE) as committee:
        issue = committee.post("/v1/issues", json={"from_case": "（2025）鲁1621刑初123号"}).json()
        refused = committee.post(f"/v1/issues/{issue['issue_id']}/decisions", json={"text": "加强走访", "owed_by": WUDINGFU_GRID, "due_on": "2099-01-01"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "unit_not_member")

    values = {
        "issue_id": [issue["issue_id"]],
        "delivery_id": grid_deliveries + all_deliveries,
        "message_id": message_ids,
        "case_key": sorted(s for s in secrets if s.startswith("（") or len(s) == 32),
        "sha256": shas,
    }
    answers: list[str] = []
    covered: set[str] = set()
    with gateway.client(WUDINGFU_GRID) as grid:
        paths = grid.get("/openapi.json").json()["paths"]
        for path, operations in paths.items():
            if "get" not in operations:
                continue
            covered.add(path)
            names = re.findall(r"\{(\w+)\}", path)
            for combination in product(*(values[name] for name in names)):
                url = path
                for name, value in zip(names, combination, strict=True):
                    url = url.replace(f"{{{name}}}", value)
                if path == "/v1/live":
                    answers.append(read_stream(grid, url))
                    continue
                response = grid.get(url)
                assert response.status_code < 500, (url, response.text)
                answers.append(response.text)
    assert covered >= {"/v1/inbox", "/v1/inbox/{delivery_id}", "/v1/grid/tasks", "/v1/cases/{case_key}", "/v1/live", "/v1/issues/{issue_id}", "/v1/meetings"}

    seen = "\n".join(answers)
    assert "李建国" in seen and "372321********0319" in seen  # the grid does see its people, masked
    for secret in secrets:
        assert secret not in seen, secret


def read_stream(client: httpx.Client, url: str) -> str:
    """The live stream's replay of everything delivered to the grid, read for a moment."""
    text: list[str] = []
    try:
        with client.stream("GET", url, headers={"Last-Event-ID": REPLAY_ALL}, timeout=httpx.Timeout(5, read=1.5)) as response:
            for chunk in response.iter_text():
                text.append(chunk)
    except httpx.ReadTimeout:
        pass
    return "".join(text)
