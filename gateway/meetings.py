"""Joint-meeting issues (联席会议议题): the hard inter-agency matters a division's committee
(县委政法委，县社区矫正委员会办公室) takes to the joint meeting it convenes with the court, the
procuratorate, the police, justice, civil affairs (民政) and health (卫健).

An issue comes from an overdue obligation, from a case, or by hand; it names its parties, links its
cases and messages, goes on the agenda of a meeting, and gets decisions. A decision is assigned to
one party with a due date and becomes an obligation itself (`AssignedObligation`), listed, escalated
and met like any other. Every change is an audit entry whose subject is the issue: that chain is the
issue's history, so a minute cannot be rewritten unnoticed.

Only the committee of the division changes an issue. A county-level unit of a party agency sees the
issues of its division that name its agency; any unit sees an issue in which it owes a decision,
and only member agencies' units can owe one (never a grid, whose projection a case file would
break); linked messages are shown only to a unit that sent or received them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from contracts.catalog import kinds
from contracts.common import Agency, UnitType
from contracts.identifiers import uuid7
from gateway.directory import Directory, UnitInfo
from gateway.errors import Refusal
from gateway.obligations import Deadlines, Obligation, assigned, china_date, sightings
from gateway.routing import Router
from gateway.store import AssignedObligation, Audit, AuditEntry, Delivery, JointMeeting, MeetingIssue, StoredMessage

log = structlog.get_logger(__name__)

PARTIES = {
    "court": "法院",
    "procuratorate": "检察院",
    "police": "公安机关",
    "justice": "司法行政机关",
    "civil_affairs": "民政部门",
    "health": "卫生健康部门",
}
PartyKey = Literal["court", "procuratorate", "police", "justice", "civil_affairs", "health"]
PARTY_OF = {Agency.court: "court", Agency.procuratorate: "procuratorate", Agency.police: "police", Agency.justice: "justice"}
# The units that sit at the joint meeting for their agency: they see the issues naming it.
SEATED = {UnitType.court, UnitType.procuratorate, UnitType.public_security_bureau, UnitType.justice_bureau}
STATUS = {"open": "待议", "scheduled": "已列入议程", "decided": "已作决定", "closed": "已办结"}
DECISION = "meeting.decision"  # the rule of every obligation a joint meeting assigns
EVENTS = {
    "meeting_issue.opened": "立项",
    "meeting_issue.scheduled": "列入会议议程",
    "meeting_issue.decided": "作出决定",
    "meeting_issue.decision_met": "决定事项办结",
    "meeting_issue.closed": "议题办结",
    "meeting_issue.reopened": "重新打开",
}

class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class IssueIn(_In):
    """A new issue: from an overdue obligation (`from_obligation`), from a case (`from_case`), or by
    hand (title, summary and parties). What is given besides the origin adds to what it brings."""

    from_obligation: str | None = Field(default=None, max_length=200, description="GET /v1/obligations 的 obligation_id")
    from_case: str | None = Field(default=None, max_length=64, description="案号")
    title: str | None = Field(default=None, min_length=1, max_length=200, description="议题名称")
    summary: str | None = Field(default=None, min_length=1, max_length=2000, description="情况说明")
    parties: list[PartyKey] = Field(default=[], max_length=6, description="参加单位")
    cases: list[str] = Field(default=[], max_length=20, description="关联案号")
    messages: list[str] = Field(default=[], max_length=50, description="关联报文编号")

    @model_validator(mode="after")
    def _one_origin(self) -> IssueIn:
        if self.from_obligation and self.from_case:
            raise ValueError("议题只能来自一项逾期事项或一个案件，不能同时填写 from_obligation 与 from_case")
        if not (self.from_obligation or self.from_case) and not (self.title and self.summary and self.parties):
            raise ValueError("手工立项须填写议题名称（title）、情况说明（summary）和参加单位（parties）")
        return self


class MeetingIn(_In):
    held_on: date = Field(description="开会日期")
    place: str = Field(min_length=1, max_length=200, description="地点")


class AgendaIn(_In):
    meeting_id: str = Field(min_length=1, max_length=36)


class DecisionIn(_In):
    """A decision assigned to one party: a unit of the directory (`owed_by`, its code) or, for a party
    with no unit in the gateway (民政、卫健), its name (`owed_by_name`)."""

    text: str = Field(min_length=1, max_length=200, description="决定事项")
    owed_by: str | None = Field(default=None, max_length=32, description="承办单位代码")
    owed_by_name: str | None = Field(default=None, min_length=1, max_length=100, description="承办单位名称（无本平台账号的单位）")
    due_on: date = Field(description="办结期限")
    case_number: str | None = Field(default=None, max_length=64, description="所涉案号（须为议题关联的案号）")

    @model_validator(mode="after")
    def _one_party(self) -> DecisionIn:
        if (self.owed_by is None) == (self.owed_by_name is None):
            raise ValueError("承办单位须填写且只填写一项：本平台单位代码（owed_by）或单位名称（owed_by_name）")
        return self


class NoteIn(_In):
    note: str = Field(min_length=1, max_length=2000, description="说明")


@dataclass(frozen=True)
class LinkedMessage:
    message_id: str
    kind: str
    title: str
    sender_name: str
    received_at: datetime


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    actor: str
    actor_name: str
    event: str
    what: str
    note: str | None


@dataclass(frozen=True)
class IssueView:
    """An issue as one unit may see it."""

    issue: MeetingIssue
    status: str
    meeting: JointMeeting | None
    decisions: list[tuple[AssignedObligation, Obligation]]
    messages: list[LinkedMessage]
    history: list[HistoryEntry]


def coordinator(unit: UnitInfo) -> UnitInfo:
    """Only the committee changes issues and meetings."""
    if unit.unit_type is not UnitType.committee:
        raise Refusal(403, "coordinator_only", "仅政法委（社区矫正委员会办公室）可以办理联席会议议题和会议")
    return unit


def status_of(issue: MeetingIssue, decided: bool) -> str:
    if issue.closed_at is not None:
        return "closed"
    return "decided" if decided else "scheduled" if issue.meeting_id else "open"


def _parties_of(units: list[UnitInfo | None]) -> list[str]:
    found = [PARTY_OF[u.agency] for u in units if u is not None and u.agency in PARTY_OF]
    return sorted(set(found), key=list(PARTIES).index)


def _from_obligation(session: Session, deadlines: Deadlines, router: Router, unit: UnitInfo, obligation_id: str, now: datetime) -> IssueIn:
    found = next((s for s in sightings(session, deadlines, router, unit, now) if s.obligation.id == obligation_id), None)
    if found is None:
        raise Refusal(404, "obligation_not_found", "本辖区没有这项应办事项，请从工作台的逾期事项中选择", field="from_obligation")
    o = found.obligation
    parties = _parties_of([router.directory.units.get(p.unit_code or "") for p in (*o.owed_by, *o.owed_to)])
    state = "逾期未办" if o.status == "overdue" else "待办"
    return IssueIn(
        title=f"{state}：{o.title}",
        summary=f"{o.title}（{o.basis}）于{o.due_on or '—'}到期，应办单位{'、'.join(p.name for p in o.owed_by)}，办理对象{'、'.join(p.name for p in o.owed_to)}。",
        parties=parties or ["justice"],
        cases=[found.case_number] if found.case_number else [],
        messages=[] if o.assigned else [o.opened_by],
    )


def _from_case(session: Session, directory: Directory, unit: UnitInfo, case_number: str) -> IssueIn:
    messages = session.scalars(
        select(StoredMessage).where(StoredMessage.case_number == case_number, directory.involving(unit.division_code)).order_by(StoredMessage.received_at)
    ).all()
    if not messages:
        raise Refusal(404, "case_not_found", "本辖区各单位的报文中没有这个案号", field="from_case")
    recipients = session.scalars(select(Delivery.recipient_code).where(Delivery.message_id.in_([m.message_id for m in messages]))).all()
    parties = _parties_of([directory.units.get(code) for code in {*recipients, *(m.sender_code for m in messages)}])
    return IssueIn(
        title=f"案件协调：{case_number}",
        summary=f"{case_number}，涉及{len(messages)}件往来报文，提请联席会议研究。",
        parties=parties or ["justice"],
        cases=[case_number],
        messages=[m.message_id for m in messages],
    )


def open_issue(
    session: Session, deadlines: Deadlines, router: Router, unit: UnitInfo, draft: IssueIn, now: datetime
) -> MeetingIssue:
    """Open an issue as the committee: what its origin brings, plus what the draft adds."""
    coordinator(unit)
    origin, origin_ref, base = "manual", None, None
    if draft.from_obligation:
        origin, origin_ref = "obligation", draft.from_obligation
        base = _from_obligation(session, deadlines, router, unit, draft.from_obligation, now)
    elif draft.from_case:
        origin, origin_ref = "case", draft.from_case
        base = _from_case(session, router.directory, unit, draft.from_case)
    local = set(session.scalars(select(StoredMessage.message_id).where(StoredMessage.message_id.in_(draft.messages), router.directory.involving(unit.division_code))))
    unknown = [m for m in draft.messages if m not in local]
    if unknown:  # another county's message is not the committee's to link, nor to learn about
        raise Refusal(422, "message_unknown", f"本辖区各单位的报文中没有编号为{unknown[0]}的报文", field="messages")
    issue = MeetingIssue(
        issue_id=str(uuid7()),
        division_code=unit.division_code,
        title=draft.title or (base.title if base else ""),
        summary=draft.summary or (base.summary if base else ""),
        origin=origin,
        origin_ref=origin_ref,
        parties=sorted({*(base.parties if base else []), *draft.parties}, key=list(PARTIES).index),
        cases=list(dict.fromkeys([*(base.cases if base else []), *draft.cases])),
        messages=list(dict.fromkeys([*(base.messages if base else []), *draft.messages])),
        meeting_id=None,
        opened_by=unit.code,
        opened_at=now,
    )
    session.add(issue)
    Audit(session).append(unit.code, "meeting_issue.opened", issue.issue_id, title=issue.title, origin=origin, origin_ref=origin_ref)
    log.info("meeting_issue.opened", issue_id=issue.issue_id, origin=origin)
    return issue


def _issue_for_change(session: Session, unit: UnitInfo, issue_id: str) -> MeetingIssue:
    coordinator(unit)
    issue = session.get(MeetingIssue, issue_id)
    if issue is None or issue.division_code != unit.division_code:
        raise Refusal(404, "issue_not_found", "本辖区没有这个议题")
    if issue.closed_at is not None:
        raise Refusal(409, "issue_closed", "议题已办结；如需继续研究，请先重新打开")
    return issue


def convene(session: Session, unit: UnitInfo, meeting: MeetingIn, now: datetime) -> JointMeeting:
    coordinator(unit)
    if meeting.held_on < china_date(now):
        raise Refusal(422, "date_in_past", f"开会日期{meeting.held_on}已过，请填写今天或以后的日期", field="held_on")
    row = JointMeeting(
        meeting_id=str(uuid7()), division_code=unit.division_code, held_on=meeting.held_on, place=meeting.place, convened_by=unit.code, created_at=now
    )
    session.add(row)
    Audit(session).append(unit.code, "joint_meeting.convened", row.meeting_id, held_on=meeting.held_on, place=meeting.place)
    return row


def schedule(session: Session, unit: UnitInfo, issue_id: str, meeting_id: str) -> MeetingIssue:
    """Place the issue on a meeting's agenda (moving it from another meeting's, if it was on one)."""
    issue = _issue_for_change(session, unit, issue_id)
    meeting = session.get(JointMeeting, meeting_id)
    if meeting is None or meeting.division_code != unit.division_code:
        raise Refusal(404, "meeting_not_found", "本辖区没有这次会议", field="meeting_id")
    issue.meeting_id = meeting_id
    Audit(session).append(unit.code, "meeting_issue.scheduled", issue_id, meeting_id=meeting_id, held_on=meeting.held_on)
    return issue


def decide(session: Session, directory: Directory, unit: UnitInfo, issue_id: str, decision: DecisionIn, now: datetime) -> AssignedObligation:
    """Record a decision: an obligation owed by its party to the committee by its due date."""
    issue = _issue_for_change(session, unit, issue_id)
    owing = directory.units.get(decision.owed_by) if decision.owed_by else None
    if decision.owed_by and (owing is None or owing.division_code != unit.division_code):
        raise Refusal(422, "unit_unknown", f"本辖区目录中没有代码为{decision.owed_by}的单位", field="owed_by")
    if owing is not None and PARTY_OF.get(owing.agency) is None:
        raise Refusal(422, "unit_not_member", f"{owing.name}不是联席会议成员单位，请交办其所属的司法所或派出所", field="owed_by")
    if decision.due_on < china_date(now):
        raise Refusal(422, "date_in_past", f"办结期限{decision.due_on}已过，请填写今天或以后的日期", field="due_on")
    case_number = decision.case_number or (issue.cases[0] if len(issue.cases) == 1 else None)
    if case_number is not None and case_number not in issue.cases:
        raise Refusal(422, "case_not_linked", f"案号{case_number}不是本议题关联的案件", field="case_number")
    row = AssignedObligation(
        key=str(uuid7()),
        issue_id=issue_id,
        rule=DECISION,
        title=decision.text,
        basis=f"{unit.name}联席会议决定（议题：{issue.title}）",
        case_number=case_number,
        owed_by_code=owing.code if owing else None,
        owed_by_name=owing.name if owing else str(decision.owed_by_name),
        owed_to_code=unit.code,
        owed_to_name=unit.name,
        opened_at=now,
        due_on=decision.due_on,
    )
    session.add(row)
    Audit(session).append(
        unit.code, "meeting_issue.decided", issue_id, decision_id=row.key, text=row.title, owed_by=row.owed_by_code or row.owed_by_name, due_on=row.due_on
    )
    log.info("meeting_issue.decided", issue_id=issue_id, decision_id=row.key, owed_by=row.owed_by_code or row.owed_by_name)
    return row


def meet(session: Session, unit: UnitInfo, issue_id: str, decision_id: str, note: str, now: datetime) -> AssignedObligation:
    """Mark a decision done, by the unit that owes it or by the committee it is owed to (for a party
    with no unit here, or on a report it took by other means); the audit entry names which."""
    row = session.get(AssignedObligation, decision_id)
    if row is None or row.issue_id != issue_id or unit.code not in (row.owed_by_code, row.owed_to_code):
        raise Refusal(404, "decision_not_found", "没有本单位承办或督办的这项决定")
    if row.met_at is not None:
        raise Refusal(409, "decision_already_met", f"这项决定已于{china_date(row.met_at)}办结")
    row.met_at, row.met_by, row.met_note = now, unit.code, note
    Audit(session).append(unit.code, "meeting_issue.decision_met", issue_id, decision_id=decision_id, note=note)
    return row


def close(session: Session, unit: UnitInfo, issue_id: str, note: str, now: datetime) -> MeetingIssue:
    """Close the issue once every decision is met: an open decision keeps it on the board."""
    issue = _issue_for_change(session, unit, issue_id)
    pending = session.scalars(select(AssignedObligation).where(AssignedObligation.issue_id == issue_id, AssignedObligation.met_at.is_(None))).all()
    if pending:
        raise Refusal(409, "decisions_pending", f"还有{len(pending)}项决定未办结（{pending[0].owed_by_name}：{pending[0].title}），不能办结议题")
    issue.closed_at, issue.closed_note = now, note
    Audit(session).append(unit.code, "meeting_issue.closed", issue_id, note=note)
    return issue


def reopen(session: Session, unit: UnitInfo, issue_id: str, note: str) -> MeetingIssue:
    coordinator(unit)
    issue = session.get(MeetingIssue, issue_id)
    if issue is None or issue.division_code != unit.division_code:
        raise Refusal(404, "issue_not_found", "本辖区没有这个议题")
    if issue.closed_at is None:
        raise Refusal(409, "issue_not_closed", "议题尚未办结，无需重新打开")
    issue.closed_at, issue.closed_note = None, None
    Audit(session).append(unit.code, "meeting_issue.reopened", issue_id, note=note)
    return issue


def _sees(unit: UnitInfo, issue: MeetingIssue, owing: set[str]) -> bool:
    if unit.division_code != issue.division_code:
        return issue.issue_id in owing
    if unit.unit_type is UnitType.committee:
        return True
    seated = unit.unit_type in SEATED and PARTY_OF.get(unit.agency) in issue.parties
    return seated or issue.issue_id in owing


def _owing(session: Session, unit: UnitInfo) -> set[str]:
    """The issues in which `unit` owes a decision."""
    return {str(i) for i in session.scalars(select(AssignedObligation.issue_id).where(AssignedObligation.owed_by_code == unit.code))}


def visible_issues(session: Session, unit: UnitInfo) -> list[MeetingIssue]:
    """The issues `unit` may see, newest first."""
    owing = _owing(session, unit)
    candidates = session.scalars(
        select(MeetingIssue).where(or_(MeetingIssue.division_code == unit.division_code, MeetingIssue.issue_id.in_(owing))).order_by(MeetingIssue.opened_at.desc())
    ).all()
    return [i for i in candidates if _sees(unit, i, owing)]


def visible_issue(session: Session, unit: UnitInfo, issue_id: str) -> MeetingIssue | None:
    """The issue, if `unit` may see it."""
    issue = session.get(MeetingIssue, issue_id)
    return issue if issue is not None and _sees(unit, issue, _owing(session, unit)) else None


def view(session: Session, directory: Directory, unit: UnitInfo, issue: MeetingIssue, now: datetime) -> IssueView:
    """The issue with its decisions (as obligations at `now`), the linked messages `unit` sent or
    received (all of them, for the committee), and its history."""
    rows = session.scalars(select(AssignedObligation).where(AssignedObligation.issue_id == issue.issue_id).order_by(AssignedObligation.opened_at)).all()
    decisions = list(zip(rows, assigned(rows, now), strict=True))
    stored = session.scalars(select(StoredMessage).where(StoredMessage.message_id.in_(issue.messages))).all()
    if unit.unit_type is not UnitType.committee:
        received = set(session.scalars(select(Delivery.message_id).where(Delivery.message_id.in_(issue.messages), Delivery.recipient_code == unit.code)).all())
        stored = [m for m in stored if m.sender_code == unit.code or m.message_id in received]
    catalog = kinds()
    messages = [
        LinkedMessage(m.message_id, m.kind, catalog[m.kind].title if m.kind in catalog else m.kind, _name(directory, m.sender_code), m.received_at)
        for m in sorted(stored, key=lambda m: m.received_at)
    ]
    entries = session.scalars(select(AuditEntry).where(AuditEntry.subject == issue.issue_id).order_by(AuditEntry.id)).all()
    history = [
        HistoryEntry(e.at, e.actor, _name(directory, e.actor), e.event, EVENTS.get(e.event, e.event), e.details.get("note") or e.details.get("text"))
        for e in entries
    ]
    meeting = session.get(JointMeeting, issue.meeting_id) if issue.meeting_id else None
    return IssueView(issue, status_of(issue, bool(rows)), meeting, decisions, messages, history)


def _name(directory: Directory, code: str) -> str:
    unit = directory.units.get(code)
    return unit.name if unit else code


def meetings(session: Session, unit: UnitInfo, today: date, upcoming: bool) -> list[tuple[JointMeeting, list[tuple[MeetingIssue, str]]]]:
    """The division's meetings (from `today` on, when `upcoming`), soonest first, each with the
    issues on its agenda that `unit` may see, and their status."""
    query = select(JointMeeting).where(JointMeeting.division_code == unit.division_code)
    if upcoming:
        query = query.where(JointMeeting.held_on >= today)
    found = session.scalars(query.order_by(JointMeeting.held_on)).all()
    seen = visible_issues(session, unit)
    decided = {str(i) for i in session.scalars(select(AssignedObligation.issue_id).where(AssignedObligation.issue_id.in_([i.issue_id for i in seen])))}
    return [(m, [(i, status_of(i, i.issue_id in decided)) for i in seen if i.meeting_id == m.meeting_id]) for m in found]
