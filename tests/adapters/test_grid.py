"""The grid adapter (网格员): any projected message becomes a visit task the worker can act on,
never more than the projection let through; a visit report is read into a draft that answers
its task, with no case (the worker never sees it), and is refused with a named field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.base import InboundError
from adapters.canonical import ADAPTER as CANONICAL
from adapters.grid import ADAPTER as GRID
from adapters.grid.outbound import ALERT_TYPES, LEVELS, RISK_LEVELS
from contracts.catalog import kinds
from contracts.common import DocumentKind, SupervisionLevel
from contracts.supervision import AlertType, RiskLevel
from gateway.routing import Router, load_rules
from gateway.settings import PACKAGE_DIR
from tests.adapters.stamping import ADAPTERS_DIR, stamp

GRID_SAMPLES = ADAPTERS_DIR / "grid" / "samples"
CANONICAL_SAMPLES = sorted((ADAPTERS_DIR / "canonical" / "samples").glob("*.json"))
REPORT = (GRID_SAMPLES / "supervision.visit_report.json").read_bytes()
CODES = {"json_malformed", "json_encoding_invalid", "field_invalid"}


@pytest.fixture(scope="module")
def router() -> Router:
    """Projection only: the directory plays no part in it."""
    return Router(load_rules(PACKAGE_DIR / "rules" / "routing"), directory=None)  # type: ignore[arg-type]


def grid_view(router: Router, sample: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The message the gateway would make of a canonical sample, and the grid's task of it."""
    message = stamp(CANONICAL.parse(sample.read_bytes()))
    return message, json.loads(GRID.render(router.project(message, "grid_visit")))


def report(**changes: Any) -> bytes:
    document = json.loads(REPORT)
    document.update(changes)
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def refusal(data: bytes) -> InboundError:
    with pytest.raises(InboundError) as caught:
        GRID.parse(data)
    assert caught.value.code in CODES
    return caught.value


# --- kinds ------------------------------------------------------------------------------------


def test_the_grid_sends_visit_reports_and_receives_every_other_kind() -> None:
    assert GRID.kinds_in == {"supervision.visit_report"}
    assert GRID.kinds_out == set(kinds()) - {"supervision.visit_report"}
    assert {"enrollment.registered", "supervision.alert", "supervision.risk_warning", "supervision.visit_task"} <= (
        GRID.kinds_out
    )


def test_labels_cover_every_canonical_value() -> None:
    assert set(LEVELS) == set(SupervisionLevel)
    assert set(ALERT_TYPES) == set(AlertType)
    assert set(RISK_LEVELS) == set(RiskLevel)


# --- render -----------------------------------------------------------------------------------


def test_enrollment_task_keeps_its_shape(router: Router) -> None:
    _, task = grid_view(router, ADAPTERS_DIR / "canonical" / "samples" / "enrollment.registered.json")
    assert task["title"] == "入矫登记通知" and task["awaits_answer"] is False
    assert task["person"]["name"] == "张伟"
    assert task["person"]["id_number"] == "372321********0019"
    assert task["supervision_level"] == "普管"
    assert task["visit_schedule"] == "每月走访不少于1次，重要节日前加访"
    assert not {"alert", "risk", "visit", "other"} & set(task)


@pytest.mark.parametrize("sample", CANONICAL_SAMPLES, ids=[path.name for path in CANONICAL_SAMPLES])
def test_no_task_shows_what_the_projection_withholds(router: Router, sample: Path) -> None:
    message, task = grid_view(router, sample)
    text = json.dumps(task, ensure_ascii=False)
    assert message["case"]["case_number"] not in text
    for secret in ("case_number", "sentence", "offence", "documents", "sha256", "longitude", "latitude"):
        assert secret not in text, secret
    person = message["payload"].get("person")
    if person:
        assert person["id_number"] not in text
        assert task["person"]["id_number"] == person["id_number"][:6] + "********" + person["id_number"][-4:]
    assert task["message_id"] == message["message_id"] and task["kind"] == message["kind"]


def test_alert_task_says_what_happened_where(router: Router) -> None:
    message, task = grid_view(router, ADAPTERS_DIR / "canonical" / "samples" / "supervision.alert.lost_contact.json")
    assert task["alert"] == {
        "type": "失联",
        "detected_at": "2025-05-14T07:58:30+08:00",
        "location": "最后定位：孙武街道鼓楼街与武定府路交叉口附近",
        "assistance": "协助查找：请网格员上门核实本人是否在家，请派出所视情协助查找",
    }
    assert message["payload"]["details"] not in json.dumps(task, ensure_ascii=False)
    assert task["person"]["gender"] == "女" and task["supervision_level"] == "普管"


def test_risk_task_shows_the_grid_measure_only(router: Router) -> None:
    message, task = grid_view(router, ADAPTERS_DIR / "canonical" / "samples" / "supervision.risk_warning.json")
    measures = message["payload"]["measures"]
    assert task["risk"] == {"level": "高", "measures": measures["grid"], "valid_until": "2025-08-31"}
    text = json.dumps(task, ensure_ascii=False)
    for hidden in (measures["police"], measures["justice"], *message["payload"]["risk_factors"]):
        assert hidden not in text


def test_visit_task_carries_due_date_purpose_and_focus(router: Router) -> None:
    message, task = grid_view(router, ADAPTERS_DIR / "canonical" / "samples" / "supervision.visit_task.json")
    payload = message["payload"]
    assert task["awaits_answer"] is True
    assert task["visit"] == {
        "due_by": payload["due_by"],
        "purpose": payload["purpose"],
        "focus_points": payload["focus_points"],
    }
    assert task["officer"] == payload["officer"] and task["supervision_level"] == "严管"


def test_render_keeps_what_another_familys_projection_lets_through() -> None:
    message = {"message_id": "m", "kind": "enrollment.registered", "payload": {"reason": "期满解除"}}
    task = json.loads(GRID.render(message))
    assert task["other"] == {"reason": "期满解除"}
    assert task["person"]["name"] is None


# --- parse ------------------------------------------------------------------------------------


def test_visit_report_answers_its_task_without_a_case() -> None:
    draft = GRID.parse(REPORT)
    assert draft.kind == "supervision.visit_report"
    assert draft.case is None
    assert str(draft.in_reply_to) == "0196c7a4-3b18-7e52-9d0a-5f7e2c81b604"
    assert draft.occurred_at == draft.payload.visited_at
    assert draft.payload.met_person is True and draft.payload.follow_up_needed is True
    assert draft.payload.findings.work == "在县城东关一家汽修店打零工，收入不稳定"
    assert [(claim.filename, claim.title, claim.document_kind) for claim in draft.attachments] == [
        ("走访照片1.jpg", "入户走访现场", DocumentKind.photo),
        ("走访照片2.jpg", "居住环境", DocumentKind.photo),
    ]
    assert draft.attachments[0].sha256 is not None and draft.attachments[1].sha256 is None


def test_a_photo_title_may_be_left_out_and_a_bom_is_read() -> None:
    draft = GRID.parse(b"\xef\xbb\xbf" + report(photos=[{"filename": "门口.JPEG"}]))
    assert draft.attachments[0].title == "走访照片"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"task_id": None}, "task_id", "字段 task_id：应为报文编号（UUID）"),
        ({"task_id": "走访任务1"}, "task_id", "字段 task_id：应为报文编号（UUID）"),
        (
            {"visited_at": "2025-05-19T15:30:00"},
            "visited_at",
            "字段 visited_at：时间须带时区，如2025-05-19T15:30:00+08:00",
        ),
        ({"met_person": "见到了"}, "met_person", "字段 met_person：应为true或false"),
        ({"visitor": ""}, "visitor", "字段 visitor：内容过短或为空"),
        ({"findings": {"work": "务农"}}, "findings.living_situation", "字段 findings.living_situation：缺少必填项"),
        ({"anomalies": ["夜不归宿"] * 21}, "anomalies", "字段 anomalies：最多20项"),
        ({"follow_up": None}, "follow_up", "字段 follow_up：需要跟进时应写明跟进建议"),
        (
            {"photos": [{"filename": "走访记录.pdf"}]},
            "photos.0.filename",
            "字段 photos.0.filename：照片“走访记录.pdf”应为JPEG或PNG图片（.jpg、.jpeg、.png）",
        ),
        ({"photos": [{"filename": "a.jpg", "sha256": "ABC"}]}, "photos.0.sha256", "字段 photos.0.sha256：格式不对"),
        ({"case_number": "（2024）鲁1621刑初287号"}, "case_number", "字段 case_number：不允许的字段"),
    ],
    ids=lambda value: value if isinstance(value, str) and value.isascii() else None,
)
def test_a_bad_field_is_named(changes: dict[str, Any], field: str, message: str) -> None:
    error = refusal(report(**changes))
    assert (error.code, error.field, error.message) == ("field_invalid", field, message)


def test_a_missing_task_id_is_named() -> None:
    document = json.loads(REPORT)
    del document["task_id"]
    error = refusal(json.dumps(document).encode())
    assert (error.code, error.field, error.message) == ("field_invalid", "task_id", "字段 task_id：缺少必填项")


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "json_malformed"),
        (b'{"task_id": ', "json_malformed"),
        (b"[1, 2]", "json_malformed"),
        (b"[" * 100_000 + b"]" * 100_000, "json_malformed"),
        ('{"visitor": "李娜"}'.encode("gbk"), "json_encoding_invalid"),
    ],
    ids=["empty", "truncated", "array", "deep", "gbk"],
)
def test_broken_json_is_refused_with_its_code(data: bytes, code: str) -> None:
    assert refusal(data).code == code


def test_a_syntax_error_names_its_line() -> None:
    error = refusal(REPORT.replace(b'"met_person": true', b'"met_person": tru', 1))
    assert error.code == "json_malformed" and error.line == 5
    assert error.message.startswith("JSON格式错误：第5行")


FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(data=st.binary(max_size=2048))
def test_arbitrary_bytes_only_ever_raise_inbound_error(data: bytes) -> None:
    try:
        GRID.parse(data)
    except InboundError as error:
        assert error.code in CODES and error.message


@FUZZ
@given(data=st.data())
def test_arbitrary_field_values_only_ever_raise_inbound_error(data: st.DataObject) -> None:
    document = json.loads(REPORT)
    field = data.draw(st.sampled_from(sorted(document)))
    document[field] = data.draw(st.none() | st.booleans() | st.integers() | st.text(max_size=30) | st.lists(st.text()))
    try:
        GRID.parse(json.dumps(document).encode())
    except InboundError as error:
        assert error.code in CODES and error.field
