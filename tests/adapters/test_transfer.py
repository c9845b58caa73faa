"""Transfer of the place of execution (执行地变更): the contract keeps the move between counties
and the decision after consent; the notice reaches court, procuratorate and police in their own
XML; the routing rules reach the parties of both places."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from lxml import etree
from pydantic import ValidationError

from adapters.canonical import ADAPTER as CANONICAL
from adapters.court import ADAPTER as COURT
from adapters.police import ADAPTER as POLICE
from adapters.procuratorate import ADAPTER as PROCURATORATE
from contracts.catalog import spec_of
from contracts.common import Agency
from contracts.transfer import TransferNotice, TransferReply, TransferRequest
from gateway.directory import Directory, load_directory
from gateway.routing import Router, RoutingError
from gateway.settings import PACKAGE_DIR
from gateway.store import Store
from tests.adapters.stamping import ADAPTERS_DIR, stamp

CANONICAL_SAMPLES = ADAPTERS_DIR / "canonical" / "samples"
XML_ADAPTERS = (COURT, PROCURATORATE, POLICE)
COURT_CODE = "11371621004370011G"  # 惠民县人民法院


def canonical(name: str) -> dict[str, Any]:
    return json.loads((CANONICAL_SAMPLES / name).read_text(encoding="utf-8"))


def notice_message() -> dict[str, Any]:
    return stamp(CANONICAL.parse((CANONICAL_SAMPLES / "transfer.notice.json").read_bytes()))


# --- contract ---------------------------------------------------------------------------------


def test_catalog_links_request_reply_and_notice() -> None:
    request, reply, notice = (spec_of(f"transfer.{name}") for name in ("request", "reply", "notice"))
    assert request.senders == reply.senders == notice.senders == frozenset({Agency.justice})
    assert request.awaits_answer and not reply.awaits_answer and not notice.awaits_answer
    assert reply.answers == {"transfer.request"} and notice.answers == {"transfer.reply"}
    assert reply.settles({"agreed": False}) and reply.settles({"agreed": True})
    assert not notice.settles(canonical("transfer.notice.json")["payload"])


def test_new_residence_in_the_same_county_is_not_a_transfer() -> None:
    payload = canonical("transfer.request.json")["payload"]
    payload["new_residence"] = {"division_code": "371621", "address": "山东省滨州市惠民县石庙镇石庙村"}
    with pytest.raises(ValidationError, match="县内变更居住地无需变更执行地"):
        TransferRequest.model_validate(payload)


def test_a_refusal_gives_reasons_and_names_no_office() -> None:
    assert not TransferReply.model_validate(canonical("transfer.reply.refused.json")["payload"]).agreed
    with pytest.raises(ValidationError, match="应当说明理由"):
        TransferReply.model_validate({"agreed": False, "replied_on": "2025-05-13"})
    with pytest.raises(ValidationError, match="不应指定接收司法所"):
        TransferReply.model_validate(
            {"agreed": False, "replied_on": "2025-05-13", "reasons": "无固定住所", "receiving_office": "彭李司法所"}
        )
    assert TransferReply.model_validate({"agreed": True, "replied_on": "2025-05-13"}).reasons is None


def test_report_deadline_follows_the_decision() -> None:
    payload = canonical("transfer.notice.json")["payload"]
    assert TransferNotice.model_validate(payload).report_by == date(2025, 5, 22)
    with pytest.raises(ValidationError, match="报到期限2025-05-14早于决定日期2025-05-15"):
        TransferNotice.model_validate({**payload, "report_by": "2025-05-14"})


# --- adapters ---------------------------------------------------------------------------------


@pytest.mark.parametrize("adapter", XML_ADAPTERS, ids=lambda adapter: adapter.name)
def test_the_notice_is_outbound_and_consultation_stays_between_bureaus(adapter: Any) -> None:
    assert "transfer.notice" in adapter.kinds_out and "transfer.notice" not in adapter.kinds_in
    assert not {"transfer.request", "transfer.reply"} & (adapter.kinds_in | adapter.kinds_out)


@pytest.mark.parametrize("adapter", XML_ADAPTERS, ids=lambda adapter: adapter.name)
def test_the_bureaus_notice_reaches_each_agency_whole_with_its_consent(adapter: Any) -> None:
    message = notice_message()
    again = adapter.parse(adapter.render(message))
    assert again.kind == "transfer.notice"
    assert str(again.in_reply_to) == message["in_reply_to"]
    assert again.payload.model_dump(mode="json") == message["payload"]
    assert [claim.document_kind for claim in again.attachments] == ["decision", "other"]


@pytest.mark.parametrize(
    ("adapter", "old", "new", "deadline"),
    [
        (COURT, "罪犯信息/居住地/行政区划代码", "新居住地/行政区划代码", ("报到期限", "2025-05-22")),
        (PROCURATORATE, "RYXX/JZD/XZQH", "XJZD/XZQH", ("BDQX", "2025-05-22")),
        (POLICE, "JZDXZQH", "XJZDXZQH", ("BDQX", "20250522")),
    ],
    ids=["court", "procuratorate", "police"],
)
def test_old_and_new_place_in_native_names(adapter: Any, old: str, new: str, deadline: tuple[str, str]) -> None:
    root = etree.fromstring(adapter.render(notice_message()))
    namespace = etree.QName(root).namespace

    def text(path: str) -> str | None:
        return root.findtext("/".join(f"{{{namespace}}}{step}" for step in path.split("/")))

    assert namespace == f"urn:xietong:{adapter.name}:transfer:1"
    assert (text(old), text(new), text(deadline[0])) == ("371621", "371602", deadline[1])


def test_police_sample_names_the_consent_and_both_places() -> None:
    data = (ADAPTERS_DIR / "police" / "samples" / "transfer.notice.xml").read_bytes()
    draft = POLICE.parse(data)
    assert str(draft.in_reply_to) == "0196c1a0-5e7d-7f12-8b39-6a4c2d9e0f31"
    assert draft.payload.new_residence.division_code == "371602"
    assert draft.payload.person.residence.area_code == "371621001003"


# --- routing ----------------------------------------------------------------------------------


class CourtSentEarlier:
    """A store in which the sentencing court sent in this case and the request came from 惠民县司法局."""

    def sender_of(self, message_id: str) -> str | None:
        return "113716210043700740"

    def case_party(self, case_number: str, agency: Agency) -> str | None:
        return COURT_CODE if agency is Agency.court else None


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Router:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('transfer') / 'x.db'}")
    load_directory(store, PACKAGE_DIR / "demo" / "directory.yaml")
    return Router.from_folder(PACKAGE_DIR / "rules" / "routing", Directory(store))


def planned(router: Router, message: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {p.unit.name: (p.role, p.rule) for p in router.plan(message, CourtSentEarlier())}


def test_request_goes_to_the_bureau_of_the_new_place_and_the_reply_back(router: Router) -> None:
    request = stamp(CANONICAL.parse((CANONICAL_SAMPLES / "transfer.request.json").read_bytes()))
    assert planned(router, request) == {"滨州市滨城区司法局": ("新执行地社区矫正机构", "transfer.consult")}
    reply = stamp(CANONICAL.parse((CANONICAL_SAMPLES / "transfer.reply.json").read_bytes()))
    assert planned(router, reply) == {"惠民县司法局": ("原执行地社区矫正机构", "transfer.answer")}


def test_notice_reaches_the_parties_of_both_places(router: Router) -> None:
    assert planned(router, notice_message()) == {
        "惠民县人民法院": ("决定机关", "transfer.notify_parties"),
        "惠民县人民检察院": ("原执行地人民检察院", "transfer.notify_parties"),
        "惠民县公安局": ("原执行地公安机关", "transfer.notify_parties"),
        "滨州市滨城区司法局": ("新执行地社区矫正机构", "transfer.new_place"),
        "滨州市滨城区人民检察院": ("新执行地人民检察院", "transfer.new_place"),
        "滨州市公安局滨城分局": ("新执行地公安机关", "transfer.new_place"),
        "惠民县公安局孙武派出所": ("原居住地派出所", "transfer.old_residence"),
        "惠民县司法局孙武司法所": ("原居住地司法所", "transfer.old_residence"),
        "孙武街道武定府社区第一网格": ("原居住地网格", "transfer.old_residence"),
    }


def test_a_new_place_outside_the_directory_is_refused_with_its_field(router: Router) -> None:
    message = notice_message()
    message["payload"]["new_residence"] = {"division_code": "370102", "address": "山东省济南市历下区泉城路1号"}
    with pytest.raises(RoutingError) as refused:
        router.plan(message, CourtSentEarlier())
    assert refused.value.code == "division_unknown" and refused.value.field == "payload.new_residence.division_code"


def test_a_notice_without_the_old_area_code_is_refused(router: Router) -> None:
    message = notice_message()
    del message["payload"]["person"]["residence"]["area_code"]
    with pytest.raises(RoutingError) as refused:
        router.plan(message, CourtSentEarlier())
    assert refused.value.field == "payload.person.residence.area_code"
