"""Transfer of the place of execution end to end: 惠民县司法局 asks 滨城区司法局 to consent, the
answer comes back, and the decision with the case file reaches the court, the procuratorates
and the public security of both places, and the police station and 司法所 of the old residence."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.conftest import RunningGateway
from tests.flows import (
    BINCHENG_JUSTICE_BUREAU,
    BINCHENG_PROCURATORATE,
    BINCHENG_PUBLIC_SECURITY,
    COURT,
    JUSTICE_BUREAU,
    PROCURATORATE,
    PUBLIC_SECURITY,
    SUNWU_OFFICE,
    SUNWU_STATION,
    WUDINGFU_GRID,
    answering,
    delivery_to,
    flow,
    sample,
    submit,
    wait_delivered,
)

pytestmark = pytest.mark.broker

FILES = {
    "变更执行地决定书.pdf": "%PDF-1.7\n% 惠民县司法局变更执行地决定书 惠司矫变字〔2025〕第3号\n%%EOF\n".encode(),
    "社区矫正档案.pdf": "%PDF-1.7\n% 张伟社区矫正执行档案：入矫登记、监管记录、教育帮扶、奖惩\n%%EOF\n".encode(),
}


def court_sent_the_judgment(gateway: RunningGateway) -> None:
    """The sentencing court becomes a party of （2025）鲁1621刑初123号 (idempotent)."""
    response = submit(gateway, COURT, "court", sample("court", "handover.judgment_effective.xml"))
    assert response.status_code == 202, response.text


def test_consent_then_decision_reaches_every_party_of_both_places(fresh_gateway: RunningGateway) -> None:
    court_sent_the_judgment(fresh_gateway)
    request, _ = flow(
        fresh_gateway,
        JUSTICE_BUREAU,
        "canonical",
        sample("canonical", "transfer.request.json"),
        {BINCHENG_JUSTICE_BUREAU: "transfer.consult"},
    )
    reply, received = flow(
        fresh_gateway,
        BINCHENG_JUSTICE_BUREAU,
        "canonical",
        answering(sample("canonical", "transfer.reply.json"), "canonical", request),
        {JUSTICE_BUREAU: "transfer.answer"},
    )
    answer = json.loads(received[JUSTICE_BUREAU])
    assert answer["in_reply_to"] == request and answer["payload"]["agreed"] is True

    notice, received = flow(
        fresh_gateway,
        JUSTICE_BUREAU,
        "canonical",
        answering(sample("canonical", "transfer.notice.json"), "canonical", reply),
        {
            COURT: "transfer.notify_parties",
            PROCURATORATE: "transfer.notify_parties",
            PUBLIC_SECURITY: "transfer.notify_parties",
            BINCHENG_JUSTICE_BUREAU: "transfer.new_place",
            BINCHENG_PROCURATORATE: "transfer.new_place",
            BINCHENG_PUBLIC_SECURITY: "transfer.new_place",
            SUNWU_STATION: "transfer.old_residence",
            SUNWU_OFFICE: "transfer.old_residence",
            WUDINGFU_GRID: "transfer.old_residence",
        },
        attachments=FILES,
    )
    grid = json.loads(received[WUDINGFU_GRID])  # the old grid stops visiting; where the person goes is not its business
    assert grid["kind"] == "transfer.notice" and set(grid["other"]) == {"decided_on", "report_by"}
    assert "惠民县" in grid["person"]["address"] and "滨城" not in received[WUDINGFU_GRID].decode()
    assert (
        "<新居住地>" in received[COURT].decode() and "<XJZDXZQH>371602</XJZDXZQH>" in received[SUNWU_STATION].decode()
    )

    with fresh_gateway.client(JUSTICE_BUREAU) as bureau:
        status = wait_delivered(bureau, notice)
    with fresh_gateway.client(BINCHENG_JUSTICE_BUREAU) as new_bureau:
        delivery = delivery_to(status, BINCHENG_JUSTICE_BUREAU)["delivery_id"]
        for name, content in FILES.items():
            digest = hashlib.sha256(content).hexdigest()
            file = new_bureau.get(f"/v1/inbox/{delivery}/documents/{digest}")
            assert file.status_code == 200, name
            assert file.content == content


def test_a_refusal_goes_back_to_the_bureau_that_asked(fresh_gateway: RunningGateway) -> None:
    request = sample("canonical", "transfer.request.json").replace(b"2025-05-08T10:15", b"2025-06-02T08:40")
    asked, _ = flow(fresh_gateway, JUSTICE_BUREAU, "canonical", request, {BINCHENG_JUSTICE_BUREAU: "transfer.consult"})
    refused, received = flow(
        fresh_gateway,
        BINCHENG_JUSTICE_BUREAU,
        "canonical",
        answering(sample("canonical", "transfer.reply.refused.json"), "canonical", asked),
        {JUSTICE_BUREAU: "transfer.answer"},
    )
    assert json.loads(received[JUSTICE_BUREAU])["payload"]["agreed"] is False

    decided = submit(fresh_gateway, JUSTICE_BUREAU, "canonical", answering(sample("canonical", "transfer.notice.json"), "canonical", refused), FILES)
    error = decided.json()["error"]
    assert (decided.status_code, error["code"], error["field"]) == (422, "reply_target_objects", "in_reply_to"), decided.text
    assert "不同意变更执行地" in error["message"]


def test_a_decision_must_follow_the_new_places_answer(fresh_gateway: RunningGateway) -> None:
    notice = json.loads(sample("canonical", "transfer.notice.json"))
    del notice["in_reply_to"], notice["attachments"]
    missing = submit(fresh_gateway, JUSTICE_BUREAU, "canonical", json.dumps(notice, ensure_ascii=False).encode())
    assert (missing.status_code, missing.json()["error"]["code"]) == (422, "reply_target_missing"), missing.text

    request = sample("canonical", "transfer.request.json").replace(b"2025-05-08T10:15", b"2025-06-20T11:05")
    asked, _ = flow(fresh_gateway, JUSTICE_BUREAU, "canonical", request, {BINCHENG_JUSTICE_BUREAU: "transfer.consult"})
    notice["in_reply_to"] = asked  # the request itself, not the answer
    wrong = submit(fresh_gateway, JUSTICE_BUREAU, "canonical", json.dumps(notice, ensure_ascii=False).encode())
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (422, "reply_target_kind"), wrong.text
