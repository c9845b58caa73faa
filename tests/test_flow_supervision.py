"""Supervision end to end: the bureau's alerts and risk warnings reach the police station, the
司法所 and the grid of the residence; the 司法所's visit task reaches the grid, whose visit
report with photos comes back to the 司法所, and the grid never sees more than a visit needs. The
grid's own task list (`GET /v1/grid/tasks`) holds its tasks only, and forgets an acknowledged one
unless asked for everything."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from adapters.base import registry
from tests.conftest import RunningGateway
from tests.flows import (
    JUSTICE_BUREAU,
    SUNWU_OFFICE,
    SUNWU_STATION,
    WUDINGFU_GRID,
    answering,
    flow,
    sample,
    submit,
    wait_delivered,
)

pytestmark = pytest.mark.broker

ALERTS = {
    "fence_breach": ("supervision.alert.json", "越界"),
    "lost_contact": ("supervision.alert.lost_contact.json", "失联"),
    "device_separated": ("supervision.alert.device_separated.json", "人机分离"),
    "failed_to_report": ("supervision.alert.failed_to_report.json", "未按规定报告"),
    "absconding": ("supervision.alert.absconding.json", "脱管"),
}
PHOTOS = ("走访照片1.jpg", "走访照片2.jpg")
WENHUA_GRID = "371621001005-01"  # 孙武街道文化社区第一网格: the next community, same station and 司法所


def residence(rule: str) -> dict[str, str]:
    return {SUNWU_STATION: rule, SUNWU_OFFICE: rule, WUDINGFU_GRID: rule}


def canonical(name: str) -> dict[str, Any]:
    return json.loads(sample("canonical", name))


@pytest.mark.parametrize("alert_type", list(ALERTS))
def test_each_alert_reaches_station_office_and_grid(fresh_gateway: RunningGateway, alert_type: str) -> None:
    name, label = ALERTS[alert_type]
    sent = canonical(name)["payload"]
    assert sent["alert_type"] == alert_type
    _, received = flow(
        fresh_gateway, JUSTICE_BUREAU, "canonical", sample("canonical", name), residence("supervision.alert_residence")
    )
    police = registry()["police"].parse(received[SUNWU_STATION])
    assert (police.kind, police.payload.alert_type) == ("supervision.alert", alert_type)
    task = json.loads(received[WUDINGFU_GRID])
    assert task["title"] == "监管告警"
    assert task["alert"] == {
        "type": label,
        "detected_at": sent["detected_at"],
        "location": sent["location"]["description"],
        "assistance": sent["assistance"],
    }
    assert (
        task["person"]["id_number"] == sent["person"]["id_number"][:6] + "********" + sent["person"]["id_number"][-4:]
    )
    text = received[WUDINGFU_GRID].decode("utf-8")
    assert "longitude" not in text and sent["details"] not in text


def test_risk_warning_shows_the_grid_its_own_measures_only(fresh_gateway: RunningGateway) -> None:
    sent = canonical("supervision.risk_warning.json")["payload"]
    _, received = flow(
        fresh_gateway,
        JUSTICE_BUREAU,
        "canonical",
        sample("canonical", "supervision.risk_warning.json"),
        residence("supervision.risk_residence"),
    )
    police = registry()["police"].parse(received[SUNWU_STATION]).payload
    assert police.measures.police == sent["measures"]["police"]
    task = json.loads(received[WUDINGFU_GRID])
    assert task["risk"] == {"level": "高", "measures": sent["measures"]["grid"], "valid_until": "2025-08-31"}
    text = received[WUDINGFU_GRID].decode("utf-8")
    for hidden in (sent["measures"]["police"], sent["measures"]["justice"], *sent["risk_factors"]):
        assert hidden not in text


def test_visit_task_is_answered_by_a_report_with_photos(fresh_gateway: RunningGateway) -> None:
    task_id, received = flow(
        fresh_gateway,
        SUNWU_OFFICE,
        "canonical",
        sample("canonical", "supervision.visit_task.json"),
        {WUDINGFU_GRID: "supervision.visit_grid"},
    )
    task = json.loads(received[WUDINGFU_GRID])
    assert (task["message_id"], task["awaits_answer"], task["supervision_level"]) == (task_id, True, "严管")
    assert task["person"] == {
        "name": "李建国",
        "gender": "男",
        "id_number": "372321********0319",
        "phone": "13791736425",
        "address": "山东省滨州市惠民县孙武街道武定府社区12号楼1单元302室",
        "area_code": "371621001003",
    }
    assert task["visit"]["due_by"] == "2025-05-20" and len(task["visit"]["focus_points"]) == 3

    photos = {name: sample("grid", name) for name in PHOTOS}
    report = answering(sample("grid", "supervision.visit_report.json"), "grid", task_id)
    report_id, received = flow(
        fresh_gateway, WUDINGFU_GRID, "grid", report, {SUNWU_OFFICE: "supervision.visit_report"}, photos
    )
    seen = json.loads(received[SUNWU_OFFICE])
    assert seen["in_reply_to"] == task_id
    assert seen["case"]["case_number"] == "（2024）鲁1621刑初287号"  # taken from the task answered
    assert seen["case"]["person_key"]
    assert [(d["filename"], d["media_type"], d["document_kind"]) for d in seen["documents"]] == [
        (name, "image/jpeg", "photo") for name in PHOTOS
    ]
    with fresh_gateway.client(SUNWU_OFFICE) as office:
        item = next(i for i in office.get("/v1/inbox").json() if i["message_id"] == report_id)
        for name, content in photos.items():
            photo = office.get(f"/v1/inbox/{item['delivery_id']}/documents/{hashlib.sha256(content).hexdigest()}")
            assert photo.status_code == 200, photo.text
            assert photo.headers["content-type"] == "image/jpeg"
            assert photo.content == content, name


def test_a_report_must_answer_a_visit_task_addressed_to_the_grid(fresh_gateway: RunningGateway) -> None:
    report = sample("grid", "supervision.visit_report.json")
    photos = {name: sample("grid", name) for name in PHOTOS}
    unknown = submit(fresh_gateway, WUDINGFU_GRID, "grid", report, photos)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (422, "reply_target_unknown")
    alert = submit(fresh_gateway, JUSTICE_BUREAU, "canonical", sample("canonical", "supervision.alert.json"))
    to_an_alert = answering(report, "grid", alert.json()["message_id"])
    wrong = submit(fresh_gateway, WUDINGFU_GRID, "grid", to_an_alert, photos)
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (422, "reply_target_kind")
    no_task = json.loads(report)
    del no_task["task_id"]
    missing = submit(fresh_gateway, WUDINGFU_GRID, "grid", json.dumps(no_task, ensure_ascii=False).encode(), photos)
    error = missing.json()["error"]
    assert (missing.status_code, error["code"], error["field"]) == (422, "field_invalid", "task_id")
    assert error["message"] == "字段 task_id：缺少必填项"


def test_the_grid_inbox_never_shows_the_full_id_the_offence_or_the_case(fresh_gateway: RunningGateway) -> None:
    names = [name for name, _ in ALERTS.values()] + ["supervision.risk_warning.json", "supervision.visit_task.json"]
    sent = [canonical(name) for name in names] + [canonical("enrollment.registered.json")]
    for name in [*names, "enrollment.registered.json"]:
        sender = SUNWU_OFFICE if name == "supervision.visit_task.json" else JUSTICE_BUREAU
        accepted = submit(fresh_gateway, sender, "canonical", sample("canonical", name))
        assert accepted.status_code == 202, accepted.text
        with fresh_gateway.client(sender) as client:
            assert wait_delivered(client, accepted.json()["message_id"])["status"] == "delivered"
    secrets = {"case_number", "offence", "危险驾驶罪", "sentence", "documents"}
    secrets |= {message["case"]["case_number"] for message in sent}
    secrets |= {message["payload"]["person"]["id_number"] for message in sent}
    with fresh_gateway.client(WUDINGFU_GRID) as grid:
        listing = grid.get("/v1/inbox")
        assert listing.status_code == 200
        items = listing.json()
        assert len(items) >= len(sent)
        texts = [listing.text] + [grid.get(f"/v1/inbox/{item['delivery_id']}").text for item in items]
    for text in texts:
        for secret in secrets:
            assert secret not in text, secret


def submitted(gateway: RunningGateway, sender: str, body: dict[str, Any]) -> str:
    response = submit(gateway, sender, "canonical", json.dumps(body, ensure_ascii=False).encode())
    assert response.status_code == 202, response.text
    with gateway.client(sender) as client:
        assert wait_delivered(client, response.json()["message_id"])["status"] == "delivered"
    message_id: str = response.json()["message_id"]
    return message_id


def tasks_of(gateway: RunningGateway, grid: str, **params: str) -> dict[str, dict[str, Any]]:
    with gateway.client(grid) as client:
        response = client.get("/v1/grid/tasks", params=params)
    assert response.status_code == 200, response.text
    return {task["message_id"]: task for task in response.json()}


def test_the_grid_task_list_holds_its_own_visit_and_alert_and_forgets_what_it_acked(fresh_gateway: RunningGateway) -> None:
    """What a grid worker's app polls: its visit task and the alert for its grid, not the next
    community's alert; an acknowledged task leaves the pending list (the default) but stays in the
    full list with its ack time; only a grid has a task list."""
    visit = canonical("supervision.visit_task.json")
    visit["payload"]["due_by"] = "2025-05-21"  # a task of its own, not a duplicate of another test's
    alert = canonical("supervision.alert.json")
    alert["payload"]["detected_at"] = "2025-05-14T22:03:41+08:00"
    elsewhere = canonical("supervision.alert.lost_contact.json")
    elsewhere["payload"]["person"]["residence"].update(
        area_code="371621001005", address="山东省滨州市惠民县孙武街道文化社区7号楼3单元201室"
    )
    visit_id = submitted(fresh_gateway, SUNWU_OFFICE, visit)
    alert_id = submitted(fresh_gateway, JUSTICE_BUREAU, alert)
    elsewhere_id = submitted(fresh_gateway, JUSTICE_BUREAU, elsewhere)

    pending = tasks_of(fresh_gateway, WUDINGFU_GRID)
    assert {visit_id, alert_id} <= set(pending) and elsewhere_id not in pending
    assert elsewhere_id in tasks_of(fresh_gateway, WENHUA_GRID)  # it did go to a grid: the other one
    assert (pending[visit_id]["task"]["title"], pending[visit_id]["task"]["visit"]["due_by"]) == ("走访任务", "2025-05-21")
    assert pending[alert_id]["task"]["alert"]["type"] == "越界"
    assert pending[alert_id]["task"]["person"]["id_number"] == "372321********0319"
    with fresh_gateway.client(WUDINGFU_GRID) as grid:
        for task in (pending[visit_id], pending[alert_id]):
            assert task["acked_at"] is None
            assert task["task"] == grid.get(f"/v1/inbox/{task['delivery_id']}").json()  # the same JSON as its inbox
        acked = grid.post(f"/v1/inbox/{pending[visit_id]['delivery_id']}/ack")
    assert acked.status_code == 204, acked.text

    pending = tasks_of(fresh_gateway, WUDINGFU_GRID)
    assert visit_id not in pending and alert_id in pending
    everything = tasks_of(fresh_gateway, WUDINGFU_GRID, pending="false")
    assert everything[visit_id]["acked_at"] is not None and everything[alert_id]["acked_at"] is None
    assert elsewhere_id not in everything

    for unit in (SUNWU_OFFICE, SUNWU_STATION, JUSTICE_BUREAU):
        with fresh_gateway.client(unit) as client:
            refused = client.get("/v1/grid/tasks")
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "grid_only"), unit
