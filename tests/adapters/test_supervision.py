"""The supervision family: its contract, the police's GA/T-style alert and risk-warning records
(告警类型代码, 风险等级代码, coordinates in decimal degrees), and who receives what."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from pydantic import ValidationError

from adapters.base import InboundError
from adapters.canonical import ADAPTER as CANONICAL
from adapters.grid import ADAPTER as GRID
from adapters.police import ADAPTER as POLICE
from adapters.police.families.supervision import ALERT_TYPE, DEGREES, RISK_LEVEL
from contracts.catalog import spec_of
from contracts.common import Agency, SupervisionLevel
from contracts.supervision import AlertType, Location, RiskLevel, VisitReport
from gateway.directory import Directory, load_directory
from gateway.routing import Router
from gateway.settings import PACKAGE_DIR
from gateway.store import Store
from tests.adapters.stamping import ADAPTERS_DIR, stamp

CANONICAL_SAMPLES = ADAPTERS_DIR / "canonical" / "samples"
POLICE_SAMPLES = ADAPTERS_DIR / "police" / "samples"
GRID_SAMPLES = ADAPTERS_DIR / "grid" / "samples"
ALERT_SAMPLES = sorted(CANONICAL_SAMPLES.glob("supervision.alert*.json"))
BEIJING = timezone(timedelta(hours=8))


def canonical(name: str) -> dict[str, Any]:
    return stamp(CANONICAL.parse((CANONICAL_SAMPLES / name).read_bytes()))


def elements(rendered: bytes) -> dict[str, str | None]:
    return {etree.QName(node).localname: node.text for node in etree.fromstring(rendered)}


# --- contract ---------------------------------------------------------------------------------


def test_catalog_declares_the_loop_of_task_and_report() -> None:
    alert, task, report = (spec_of(f"supervision.{k}") for k in ("alert", "visit_task", "visit_report"))
    assert alert.live and alert.senders == {Agency.justice}
    assert spec_of("supervision.risk_warning").senders == {Agency.justice}
    assert task.awaits_answer and task.senders == {Agency.justice}
    assert report.senders == {Agency.grid} and report.answers == {"supervision.visit_task"}
    assert report.settles(
        GRID.parse((GRID_SAMPLES / "supervision.visit_report.json").read_bytes()).payload.model_dump(mode="json")
    )


def test_coordinates_come_in_pairs() -> None:
    with pytest.raises(ValidationError, match="经度与纬度应同时提供或同时不提供"):
        Location(longitude=117.5, description="县城东外环")
    with pytest.raises(ValidationError):
        Location(longitude=217.5, latitude=37.4, description="县城东外环")
    assert Location(description="去向不明").longitude is None


def test_an_alert_time_without_a_zone_is_refused() -> None:
    message = json.loads((CANONICAL_SAMPLES / "supervision.alert.json").read_bytes())
    message["payload"]["detected_at"] = "2025-05-12T21:46:52"
    with pytest.raises(InboundError) as refused:
        CANONICAL.parse(json.dumps(message).encode())
    assert refused.value.field == "payload.detected_at"


def test_a_follow_up_needs_saying_what() -> None:
    report = {
        "visited_at": "2025-05-19T15:30:00+08:00",
        "visitor": "李娜",
        "met_person": False,
        "findings": {"living_situation": "家中无人，邻居称其外出打工"},
        "follow_up_needed": True,
    }
    with pytest.raises(ValidationError, match="需要跟进时应写明跟进建议"):
        VisitReport.model_validate(report)
    assert VisitReport.model_validate({**report, "follow_up_needed": False}).anomalies == []


# --- police mapping ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "enum"),
    [(ALERT_TYPE, AlertType), (RISK_LEVEL, RiskLevel)],
    ids=["alert_type", "risk_level"],
)
def test_code_tables_cover_every_canonical_value(table: Any, enum: Any) -> None:
    for member in enum:
        assert table.inbound(table.outbound(member.value)) == member.value


@pytest.mark.parametrize("value", [117.532811, -0.00001, 180.0, 37.123456789012])
def test_degrees_are_written_without_an_exponent_and_read_back_exactly(value: float) -> None:
    text = DEGREES.outbound(value)
    assert "e" not in text.lower()
    assert DEGREES.inbound(text) == value


def test_police_alert_reads_codes_time_and_coordinates() -> None:
    draft = POLICE.parse((POLICE_SAMPLES / "supervision.alert.xml").read_bytes())
    payload = draft.payload
    assert (payload.alert_type, payload.supervision_level) == (AlertType.fence_breach, SupervisionLevel.strict)
    assert payload.detected_at == datetime(2025, 5, 12, 21, 46, 52, tzinfo=BEIJING)
    assert (payload.location.longitude, payload.location.latitude) == (117.532811, 37.489152)
    assert draft.case.case_number == "（2024）鲁1621刑初287号"


def test_police_absconding_alert_has_no_coordinates() -> None:
    draft = POLICE.parse((POLICE_SAMPLES / "supervision.alert.absconding.xml").read_bytes())
    assert draft.payload.alert_type == AlertType.absconding
    assert draft.payload.location.longitude is None and draft.payload.location.latitude is None


@pytest.mark.parametrize("sample", ALERT_SAMPLES, ids=[path.name for path in ALERT_SAMPLES])
def test_every_alert_type_reaches_the_police_unchanged(sample: Path) -> None:
    message = stamp(CANONICAL.parse(sample.read_bytes()))
    rendered = POLICE.render(message)
    code = {"fence_breach": "01", "lost_contact": "02", "device_separated": "03", "failed_to_report": "04"}
    assert elements(rendered)["GJLXDM"] == code.get(message["payload"]["alert_type"], "05")
    assert POLICE.parse(rendered).payload.model_dump(mode="json") == message["payload"]


def test_an_alert_time_in_utc_is_written_in_beijing_time() -> None:
    message = canonical("supervision.alert.json")
    message["payload"]["detected_at"] = datetime(2025, 5, 12, 13, 46, 52, tzinfo=UTC).isoformat()
    rendered = POLICE.render(message)
    assert elements(rendered)["GJSJ"] == "20250512214652"
    assert POLICE.parse(rendered).payload.detected_at == datetime(2025, 5, 12, 21, 46, 52, tzinfo=BEIJING)


def test_risk_warning_lists_factors_and_each_partys_measures() -> None:
    message = canonical("supervision.risk_warning.json")
    rendered = POLICE.render(message)
    fields = elements(rendered)
    measures = message["payload"]["measures"]
    assert (fields["FXDJDM"], fields["YJYXQZ"]) == ("1", "20250831")
    assert (fields["SFSCS"], fields["GACS"], fields["WGCS"]) == (
        measures["justice"],
        measures["police"],
        measures["grid"],
    )
    factors = etree.fromstring(rendered).findall(
        "{urn:xietong:police:supervision:1}FXYSLB/{urn:xietong:police:supervision:1}FXYS"
    )
    assert [factor.text for factor in factors] == message["payload"]["risk_factors"]
    assert POLICE.parse(rendered).payload.valid_until == date(2025, 8, 31)


def _replaced(sample: str, old: bytes, new: bytes) -> bytes:
    data = (POLICE_SAMPLES / sample).read_bytes()
    assert old in data
    return data.replace(old, new, 1)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (_replaced("supervision.alert.xml", b"<GJLXDM>01</GJLXDM>", b"<GJLXDM>09</GJLXDM>"), "GJLXDM"),
        (_replaced("supervision.alert.xml", b"  <WD>37.489152</WD>\n", b""), "WZMS"),
        (_replaced("supervision.alert.xml", b"<JD>117.532811</JD>", b"<JD>1.2E2</JD>"), "JD"),
        (_replaced("supervision.risk_warning.xml", b"<FXDJDM>1</FXDJDM>", b"<FXDJDM>H</FXDJDM>"), "FXDJDM"),
    ],
    ids=["unknown-alert-code", "longitude-without-latitude", "exponent", "risk-letter"],
)
def test_a_bad_police_record_is_a_schema_violation_naming_the_element(data: bytes, field: str) -> None:
    with pytest.raises(InboundError) as refused:
        POLICE.parse(data)
    assert (refused.value.code, refused.value.field) == ("xml_schema_violation", field)


# --- routing and the grid's projection ----------------------------------------------------------

TASK_SENDER = "11371621004370082T"  # 孙武司法所


class History:
    """The store's answers: the visit task was sent by the 孙武司法所."""

    def sender_of(self, message_id: str) -> str | None:
        return TASK_SENDER

    def case_party(self, case_number: str, agency: Agency) -> str | None:
        return None


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Router:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('supervision') / 'x.db'}")
    load_directory(store, PACKAGE_DIR / "demo" / "directory.yaml")
    return Router.from_folder(PACKAGE_DIR / "rules" / "routing", Directory(store))


def planned(router: Router, message: dict[str, Any]) -> dict[str, str]:
    return {p.unit.name: p.rule for p in router.plan(message, History())}


@pytest.mark.parametrize("sample", ALERT_SAMPLES, ids=[path.name for path in ALERT_SAMPLES])
def test_alerts_go_to_the_station_office_and_grid_of_the_residence(router: Router, sample: Path) -> None:
    message = stamp(CANONICAL.parse(sample.read_bytes()))
    assert planned(router, message) == {
        "惠民县公安局孙武派出所": "supervision.alert_residence",
        "惠民县司法局孙武司法所": "supervision.alert_residence",
        "孙武街道武定府社区第一网格": "supervision.alert_residence",
    }


def test_a_risk_warning_in_another_township_goes_to_its_own_parties(router: Router) -> None:
    message = canonical("supervision.risk_warning.json")
    message["payload"]["person"]["residence"] = {
        "division_code": "371621",
        "area_code": "371621101201",
        "address": "山东省滨州市惠民县石庙镇石庙村",
    }
    assert planned(router, message) == {
        "惠民县公安局石庙派出所": "supervision.risk_residence",
        "惠民县司法局石庙司法所": "supervision.risk_residence",
        "石庙镇石庙村网格": "supervision.risk_residence",
    }


def test_a_visit_task_goes_to_the_grid_and_its_report_back_to_the_task_sender(router: Router) -> None:
    assert planned(router, canonical("supervision.visit_task.json")) == {
        "孙武街道武定府社区第一网格": "supervision.visit_grid"
    }
    report = {
        "kind": "supervision.visit_report",
        "in_reply_to": "0196c7a4-3b18-7e52-9d0a-5f7e2c81b604",
        "sender": {"unit_code": "371621001003-01"},
        "payload": {},
    }
    assert planned(router, report) == {"惠民县司法局孙武司法所": "supervision.visit_report"}


@pytest.mark.parametrize(
    "name", ["supervision.alert.json", "supervision.risk_warning.json", "supervision.visit_task.json"]
)
def test_the_grid_projection_keeps_the_visit_and_drops_the_rest(router: Router, name: str) -> None:
    message = canonical(name)
    seen = router.project(message, "grid_visit")
    payload = seen["payload"]
    assert "case" not in seen and "documents" not in seen
    assert payload["person"]["id_number"].count("*") == 8
    assert set(payload["person"]) <= {"name", "gender", "id_number", "residence", "phone"}
    assert not {"details", "risk_factors"} & set(payload)
    assert payload.get("location", {}).keys() <= {"description"}
    assert payload.get("measures", {}).keys() <= {"grid"}
