"""The oversight family in the procuratorate's dialect: the notice read field by field, the loop
rules (only an accepting conclusion closes it), and the deadlines a clerk is told about."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from adapters.base import InboundError
from adapters.canonical import ADAPTER as CANONICAL
from adapters.procuratorate import ADAPTER as PROCURATORATE
from contracts.catalog import spec_of
from contracts.common import DocumentKind
from contracts.oversight import ConclusionOutcome, NoticeType
from tests.adapters.stamping import ADAPTERS_DIR, stamp

OVERSIGHT = {"oversight.notice", "oversight.rectification_reply", "oversight.conclusion"}


def sample(agency: str, name: str) -> bytes:
    return (ADAPTERS_DIR / agency / "samples" / name).read_bytes()


def refused(parse: Callable[[bytes], object], data: bytes) -> InboundError:
    with pytest.raises(InboundError) as caught:
        parse(data)
    return caught.value


def test_the_procuratorate_sends_notice_and_conclusion_and_receives_the_reply() -> None:
    assert PROCURATORATE.kinds_in & OVERSIGHT == {"oversight.notice", "oversight.conclusion"}
    assert PROCURATORATE.kinds_out & OVERSIGHT == {"oversight.rectification_reply"}


def test_the_loop_stays_open_until_a_conclusion_accepts() -> None:
    assert spec_of("oversight.notice").awaits_answer
    reply, conclusion = spec_of("oversight.rectification_reply"), spec_of("oversight.conclusion")
    assert reply.answers == {"oversight.notice", "oversight.conclusion"}
    assert not reply.settles({})
    assert conclusion.answers == {"oversight.rectification_reply"}
    assert conclusion.settles({"outcome": "accepted"}) and not conclusion.settles({"outcome": "reopened"})
    assert not conclusion.awaits_answer  # a reopened conclusion keeps the notice's loop open, it opens none


def test_correction_notice_is_read_field_by_field() -> None:
    draft = PROCURATORATE.parse(sample("procuratorate", "oversight.notice.xml"))
    payload = draft.payload
    assert draft.case.case_number == "（2025）鲁1621刑初123号" and draft.in_reply_to is None
    assert (payload.notice_type, payload.document_number) == (NoticeType.correction_notice, "惠检纠违〔2025〕3号")
    assert (payload.issued_on, payload.reply_by) == (date(2025, 7, 15), date(2025, 9, 15))
    assert (
        len(payload.problems) == 2 and payload.problems[1].requirement == "补全走访记录，严格按矫正方案开展实地走访。"
    )
    assert payload.person is not None and payload.person.name == "张伟"
    assert [claim.document_kind for claim in draft.attachments] == [DocumentKind.correction_notice]


def test_a_suggestion_about_a_practice_has_no_person() -> None:
    payload = PROCURATORATE.parse(sample("procuratorate", "oversight.notice.practice.xml")).payload
    assert payload.notice_type is NoticeType.procuratorial_suggestion and payload.person is None


def test_a_reply_deadline_before_the_notice_is_refused() -> None:
    data = sample("procuratorate", "oversight.notice.xml").replace(b"<HFQX>2025-09-15<", b"<HFQX>2025-07-01<")
    error = refused(PROCURATORATE.parse, data)
    assert error.code == "field_invalid" and error.message.endswith("回复期限早于发出日期")


def test_reopening_needs_a_new_deadline_and_accepting_allows_none() -> None:
    accepted = sample("procuratorate", "oversight.conclusion.xml")
    assert PROCURATORATE.parse(accepted).payload.outcome is ConclusionOutcome.accepted
    reopened = accepted.replace(b"<JLLB>1</JLLB>", b"<JLLB>2</JLLB>")
    assert refused(PROCURATORATE.parse, reopened).message.endswith("继续督促整改须写明新的回复期限")
    reopened = reopened.replace(b"</JLRQ>", b"</JLRQ>\n  <HFQX>2025-11-10</HFQX>")
    assert PROCURATORATE.parse(reopened).payload.reply_by == date(2025, 11, 10)
    with_deadline = reopened.replace(b"<JLLB>2</JLLB>", b"<JLLB>1</JLLB>")
    assert refused(PROCURATORATE.parse, with_deadline).message.endswith("采纳结案时不应再有回复期限")


def test_the_bureaus_reply_reaches_the_procuratorate_with_every_measure() -> None:
    message = stamp(CANONICAL.parse(sample("canonical", "oversight.rectification_reply.json")))
    rendered = PROCURATORATE.render(message)
    assert rendered.count(b"<ZGCS>") == 2 and "<ZRR>矫正责任人 王红梅</ZRR>".encode() in rendered
    again = PROCURATORATE.parse(rendered)
    assert again.payload.model_dump(mode="json") == message["payload"]
    assert str(again.in_reply_to) == "01982f6d-3b87-7a50-9c14-8e5d1a7f3c62"
