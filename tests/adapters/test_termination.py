"""Termination (解除/终止社区矫正): the contract keeps the reason consistent with the sentence,
court, procuratorate and police read it in their own code tables, and the routing rules reach
every party of the residence, the grid seeing only that its visits end."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from adapters.canonical import ADAPTER as CANONICAL
from adapters.court import ADAPTER as COURT
from adapters.court.families import termination as court_termination
from adapters.police import ADAPTER as POLICE
from adapters.police.families import termination as police_termination
from adapters.procuratorate import ADAPTER as PROCURATORATE
from adapters.procuratorate.families import termination as procuratorate_termination
from contracts.catalog import spec_of
from contracts.common import Agency
from contracts.termination import TerminationNotice, TerminationReason
from gateway.directory import Directory, load_directory
from gateway.routing import Router
from gateway.settings import PACKAGE_DIR
from gateway.store import Store
from tests.adapters.stamping import ADAPTERS_DIR, stamp

CANONICAL_SAMPLES = ADAPTERS_DIR / "canonical" / "samples"
XML_ADAPTERS = (COURT, PROCURATORATE, POLICE)
COURT_CODE = "11371621004370011G"  # 惠民县人民法院


def message(name: str) -> dict[str, Any]:
    return stamp(CANONICAL.parse((CANONICAL_SAMPLES / name).read_bytes()))


def payload(name: str) -> dict[str, Any]:
    return json.loads((CANONICAL_SAMPLES / name).read_text(encoding="utf-8"))["payload"]


# --- contract ---------------------------------------------------------------------------------


def test_only_the_bureau_sends_and_nobody_owes_an_answer() -> None:
    spec = spec_of("termination.notice")
    assert spec.senders == frozenset({Agency.justice})
    assert not spec.awaits_answer and not spec.answers


def test_expiry_cannot_come_before_the_end_of_the_term() -> None:
    expiry = payload("termination.notice.json")
    assert TerminationNotice.model_validate(expiry).reason is TerminationReason.expiry
    with pytest.raises(ValidationError, match="矫正期满解除之日2025-09-15早于矫正期限届满日2025-09-16"):
        TerminationNotice.model_validate({**expiry, "effective_on": "2025-09-15"})


def test_a_termination_before_expiry_says_what_happened() -> None:
    death = payload("termination.notice.death.json")
    assert TerminationNotice.model_validate(death).reason is TerminationReason.death
    del death["circumstances"]
    with pytest.raises(ValidationError, match="应当写明情况说明"):
        TerminationNotice.model_validate(death)


# --- adapters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "table",
    [court_termination.REASON, procuratorate_termination.REASON, police_termination.REASON],
    ids=["court", "procuratorate", "police"],
)
def test_reason_tables_cover_every_reason(table: Any) -> None:
    for reason in TerminationReason:
        assert table.inbound(table.outbound(reason.value)) == reason.value


@pytest.mark.parametrize("adapter", XML_ADAPTERS, ids=lambda adapter: adapter.name)
@pytest.mark.parametrize("sample", ["termination.notice.json", "termination.notice.death.json"])
def test_each_agency_reads_the_notice_back_whole(adapter: Any, sample: str) -> None:
    assert "termination.notice" in adapter.kinds_out and "termination.notice" not in adapter.kinds_in
    sent = message(sample)
    again = adapter.parse(adapter.render(sent))
    assert again.payload.model_dump(mode="json") == sent["payload"]
    assert [claim.filename for claim in again.attachments] == [doc["filename"] for doc in sent["documents"]]


@pytest.mark.parametrize(
    ("adapter", "reason", "certificate"),
    [
        (COURT, "<解除终止原因>矫正期满解除</解除终止原因>", '文书类型="解除社区矫正证明书"'),
        (PROCURATORATE, "<JCZZYY>1</JCZZYY>", "<WSLB>12</WSLB>"),
        (POLICE, "<JCZZYYDM>1</JCZZYYDM>", "<WSLBDM>80</WSLBDM>"),
    ],
    ids=["court", "procuratorate", "police"],
)
def test_the_certificate_travels_at_expiry(adapter: Any, reason: str, certificate: str) -> None:
    text = adapter.render(message("termination.notice.json")).decode("utf-8")
    assert reason in text and certificate in text


# --- routing ----------------------------------------------------------------------------------


class CourtSentEarlier:
    def sender_of(self, message_id: str) -> str | None:
        return None

    def case_party(self, case_number: str, agency: Agency) -> str | None:
        return COURT_CODE if agency is Agency.court else None


class NoHistory(CourtSentEarlier):
    def case_party(self, case_number: str, agency: Agency) -> str | None:
        return None


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Router:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('termination') / 'x.db'}")
    load_directory(store, PACKAGE_DIR / "demo" / "directory.yaml")
    return Router.from_folder(PACKAGE_DIR / "rules" / "routing", Directory(store))


def test_notice_reaches_every_party_of_the_residence(router: Router) -> None:
    planned = {
        p.unit.name: (p.role, p.rule) for p in router.plan(message("termination.notice.json"), CourtSentEarlier())
    }
    assert planned == {
        "惠民县人民法院": ("决定机关", "termination.notify_parties"),
        "惠民县人民检察院": ("同级人民检察院", "termination.notify_parties"),
        "惠民县公安局": ("居住地公安机关", "termination.notify_parties"),
        "惠民县公安局孙武派出所": ("居住地派出所", "termination.residence"),
        "惠民县司法局孙武司法所": ("居住地司法所", "termination.residence"),
        "孙武街道武定府社区第一网格": ("居住地网格", "termination.residence"),
    }


def test_without_a_court_in_the_case_the_others_are_still_told(router: Router) -> None:
    planned = {p.unit.name for p in router.plan(message("termination.notice.death.json"), NoHistory())}
    assert "惠民县人民法院" not in planned and len(planned) == 5


def test_the_grid_sees_why_and_when_visits_end_and_nothing_of_the_case(router: Router) -> None:
    sent = message("termination.notice.death.json")
    seen = router.project(sent, "grid_visit")
    assert seen["payload"]["reason"] == "death" and seen["payload"]["effective_on"] == "2025-07-02"
    assert seen["payload"]["person"]["id_number"] == "372321********0019"
    assert not {"sentence", "circumstances", "conduct"} & set(seen["payload"])
    assert "documents" not in seen and "case" not in seen
