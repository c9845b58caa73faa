"""Routing and projection, against the demo directory in a real SQLite file (no broker)."""

from __future__ import annotations

import json

import pytest

from adapters.base import registry
from contracts.catalog import spec_of
from contracts.common import Agency, UnitType
from gateway.directory import Directory, load_directory
from gateway.routing import Router, RoutingError
from gateway.settings import PACKAGE_DIR
from gateway.store import Store

SAMPLE = PACKAGE_DIR.parent / "adapters" / "canonical" / "samples" / "enrollment.registered.json"


class NoHistory:
    def sender_of(self, message_id: str) -> str | None:
        return None

    def case_party(self, case_number: str, agency: Agency) -> str | None:
        return None


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Router:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('routing') / 'x.db'}")
    load_directory(store, PACKAGE_DIR / "demo" / "directory.yaml")
    return Router.from_folder(PACKAGE_DIR / "rules" / "routing", Directory(store))


def enrollment(area_code: str | None = "371621001003") -> dict:
    message = json.loads(SAMPLE.read_text(encoding="utf-8"))
    message["sender"] = {"agency": "justice", "unit_type": "justice_bureau", "unit_code": "113716210043700740", "unit_name": "惠民县司法局", "division_code": "371621"}
    message["payload"]["person"]["residence"]["area_code"] = area_code
    return message


def test_station_of_the_residence_not_the_county_bureau(router: Router) -> None:
    names = {p.unit.name: p for p in router.plan(enrollment("371621101201"), NoHistory())}
    assert "惠民县公安局石庙派出所" in names
    assert "惠民县公安局" not in names
    assert "惠民县司法局石庙司法所" in names
    assert "石庙镇石庙村网格" in names
    assert names["石庙镇石庙村网格"].rule == "enrollment.residence"


def test_longest_covering_prefix_picks_the_grid_of_the_address(router: Router) -> None:
    assert router.directory.resolve(UnitType.grid, "371621001005").name == "孙武街道文化社区第一网格"
    assert router.directory.resolve(UnitType.grid, "371621001003").name == "孙武街道武定府社区第一网格"
    assert router.directory.resolve(UnitType.police_station, "371621002007").name == "惠民县公安局孙武派出所"
    assert router.directory.resolve(UnitType.grid, "371621002007") is None


def test_missing_grid_of_the_residence_is_refused_with_the_field(router: Router) -> None:
    with pytest.raises(RoutingError) as refused:
        router.plan(enrollment("371621104999"), NoHistory())
    assert refused.value.code == "recipient_unresolved"
    assert refused.value.field == "payload.person.residence.area_code"


def test_unknown_division_is_named(router: Router) -> None:
    message = enrollment()
    message["payload"]["person"]["residence"] = {"division_code": "371699", "area_code": "371699001001", "address": "某地"}
    with pytest.raises(RoutingError) as refused:
        router.plan(message, NoHistory())
    assert refused.value.code == "division_unknown"
    assert "371699" in refused.value.message


def test_grid_projection_masks_the_id_and_drops_the_offence(router: Router) -> None:
    message = enrollment()
    message["documents"] = [{"sha256": "a" * 64}]
    seen = router.project(message, "grid_visit")
    person = seen["payload"]["person"]
    assert person["id_number"] == "372321********0019"
    assert "sentence" not in seen["payload"]
    assert "documents" not in seen
    assert "case" not in seen
    assert "birth_date" not in person and "domicile" not in person
    assert router.project(message, "full") == message


def test_every_recipient_a_rule_can_name_can_read_the_kind(router: Router) -> None:
    """A rule must not send a kind to a unit whose adapter cannot render it: for every rule,
    kind and target, every unit of the demo directory that could play the role has a mapping."""
    units = list(router.directory.units.values())
    unreadable = []
    for rule in router.rules.rules:
        for kind, target in ((kind, target) for kind in rule.kinds for target in rule.deliver):
            if target.unit_type is not None:
                candidates = [u for u in units if u.unit_type is target.unit_type]
            elif target.case_party is not None:
                candidates = [u for u in units if u.agency is target.case_party]
            else:
                answered = spec_of(kind).answers
                candidates = [u for u in units if any(u.agency in spec_of(a).senders for a in answered)]
            assert candidates, (rule.id, target.role)
            unreadable += [(rule.id, kind, u.code) for u in candidates if kind not in registry()[u.adapter].kinds_out]
    assert unreadable == []


def test_a_kind_s_own_fields_are_seen_for_that_kind_only(router: Router) -> None:
    message = enrollment()
    message["payload"]["reason"] = "expiry"
    message["payload"]["effective_on"] = "2026-03-24"
    assert "reason" not in router.project(message, "grid_visit")["payload"]
    message["kind"] = "termination.notice"
    seen = router.project(message, "grid_visit")["payload"]
    assert (seen["reason"], seen["effective_on"]) == ("expiry", "2026-03-24")
    assert "visit_schedule" not in seen and "sentence" not in seen


def test_the_police_receive_a_ruling_only_when_it_orders_remand(router: Router) -> None:
    bureau = "113716210043700740"

    class Proposed(NoHistory):
        def sender_of(self, message_id: str) -> str | None:
            return bureau

    court = registry()["court"]
    samples = PACKAGE_DIR.parent / "adapters" / "court" / "samples"
    plans = {}
    for name in ("sanction.ruling.xml", "sanction.ruling.rejected.xml"):
        draft = court.parse((samples / name).read_bytes())
        message = {**draft.model_dump(mode="json"), "sender": {"unit_code": "11371621004370011G", "division_code": "371621"}}
        plans[name] = {p.unit.code: p.rule for p in router.plan(message, Proposed())}
    police = "11371621004370039B"
    assert plans["sanction.ruling.xml"][police] == "sanction.ruling"
    assert police not in plans["sanction.ruling.rejected.xml"]
    assert bureau in plans["sanction.ruling.rejected.xml"]
