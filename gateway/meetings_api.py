"""Joint-meeting issues and meetings over HTTP: `/v1/issues` and `/v1/meetings` (see
`gateway.meetings` for who may see and change what)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session

from gateway.callers import ERRORS, Caller
from gateway.directory import UnitInfo
from gateway.errors import Refusal
from gateway.meetings import (
    PARTIES,
    STATUS,
    AgendaIn,
    DecisionIn,
    IssueIn,
    IssueView,
    MeetingIn,
    NoteIn,
    close,
    convene,
    decide,
    meet,
    meetings,
    open_issue,
    reopen,
    schedule,
    view,
    visible_issue,
    visible_issues,
)
from gateway.obligations import china_date
from gateway.services import Services
from gateway.store import JointMeeting, MeetingIssue, utcnow

router = APIRouter(tags=["联席会议"])
IssueId = Annotated[str, Path(min_length=1, max_length=36)]


class PartyOut(BaseModel):
    key: str
    name: str


class MessageLink(BaseModel):
    message_id: str
    kind: str
    title: str
    sender_name: str
    received_at: datetime


class DecisionOut(BaseModel):
    decision_id: str
    obligation_id: str  # as GET /v1/obligations lists it
    text: str
    owed_by: str | None  # the unit code; None for a party with no unit here
    owed_by_name: str
    due_on: date
    case_number: str | None
    status: Literal["open", "met", "overdue"]
    met_at: datetime | None
    met_note: str | None
    late: bool


class HistoryOut(BaseModel):
    at: datetime
    actor: str
    actor_name: str
    event: str
    what: str  # 中文
    note: str | None


class MeetingRef(BaseModel):
    meeting_id: str
    held_on: date
    place: str


class IssueOut(BaseModel):
    issue_id: str
    division_code: str
    title: str
    summary: str
    origin: Literal["obligation", "case", "manual"]
    origin_ref: str | None
    status: Literal["open", "scheduled", "decided", "closed"]
    status_name: str
    parties: list[PartyOut]
    cases: list[str]
    messages: list[MessageLink]  # those the caller sent or received (the committee: all)
    meeting: MeetingRef | None
    decisions: list[DecisionOut]
    history: list[HistoryOut]
    opened_at: datetime
    closed_at: datetime | None
    closed_note: str | None


class AgendaItem(BaseModel):
    issue_id: str
    title: str
    status_name: str


class MeetingOut(MeetingRef):
    agenda: list[AgendaItem]


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def issue_out(found: IssueView) -> IssueOut:
    issue, meeting = found.issue, found.meeting
    return IssueOut(
        issue_id=issue.issue_id,
        division_code=issue.division_code,
        title=issue.title,
        summary=issue.summary,
        origin=issue.origin,  # type: ignore[arg-type]
        origin_ref=issue.origin_ref,
        status=found.status,  # type: ignore[arg-type]
        status_name=STATUS[found.status],
        parties=[PartyOut(key=p, name=PARTIES[p]) for p in issue.parties],
        cases=issue.cases,
        messages=[MessageLink(**vars(m)) for m in found.messages],
        meeting=MeetingRef(meeting_id=meeting.meeting_id, held_on=meeting.held_on, place=meeting.place) if meeting else None,
        decisions=[
            DecisionOut(
                decision_id=row.key,
                obligation_id=o.id,
                text=row.title,
                owed_by=row.owed_by_code,
                owed_by_name=row.owed_by_name,
                due_on=row.due_on,
                case_number=row.case_number,
                status=o.status,
                met_at=row.met_at,
                met_note=row.met_note,
                late=o.late,
            )
            for row, o in found.decisions
        ],
        history=[HistoryOut(**vars(h)) for h in found.history],
        opened_at=issue.opened_at,
        closed_at=issue.closed_at,
        closed_note=issue.closed_note,
    )


def _change(request: Request, unit: UnitInfo, issue_id: str, work: Callable[[Session], object]) -> IssueOut:
    """`work` in a write transaction, then the issue as the caller now sees it."""
    with _services(request).store.write() as session:
        work(session)
    return _visible(request, unit, issue_id)


def _visible(request: Request, unit: UnitInfo, issue_id: str) -> IssueOut:
    services = _services(request)
    with services.store.read() as session:
        issue = visible_issue(session, unit, issue_id)
        if issue is None:
            raise Refusal(404, "issue_not_found", "没有本单位可见的这个议题")
        return issue_out(view(session, services.directory, unit, issue, utcnow()))


@router.post("/v1/issues", status_code=201, response_model=IssueOut, responses=ERRORS, summary="政法委：立联席会议议题（来自逾期事项、案件或手工）")
def create_issue(request: Request, unit: Caller, draft: IssueIn) -> IssueOut:
    services = _services(request)
    with services.store.write() as session:
        issue = open_issue(session, services.deadlines, services.router, unit, draft, utcnow())
    return _visible(request, unit, issue.issue_id)


@router.get("/v1/issues", response_model=list[IssueOut], responses=ERRORS, summary="本单位可见的联席会议议题")
def list_issues(
    request: Request,
    unit: Caller,
    status: Annotated[Literal["open", "scheduled", "decided", "closed"] | None, Query(description="open 待议 / scheduled 已列入议程 / decided 已作决定 / closed 已办结")] = None,
) -> list[IssueOut]:
    services = _services(request)
    now = utcnow()
    with services.store.read() as session:
        found = [issue_out(view(session, services.directory, unit, i, now)) for i in visible_issues(session, unit)]
    return [i for i in found if status in (None, i.status)]


@router.get("/v1/issues/{issue_id}", response_model=IssueOut, responses=ERRORS, summary="议题详情：参加单位、关联案件与报文、决定事项、办理经过")
def get_issue(request: Request, unit: Caller, issue_id: IssueId) -> IssueOut:
    return _visible(request, unit, issue_id)


@router.post("/v1/issues/{issue_id}/agenda", response_model=IssueOut, responses=ERRORS, summary="政法委：将议题列入一次会议的议程")
def put_on_agenda(request: Request, unit: Caller, issue_id: IssueId, body: AgendaIn) -> IssueOut:
    return _change(request, unit, issue_id, lambda session: schedule(session, unit, issue_id, body.meeting_id))


@router.post("/v1/issues/{issue_id}/decisions", status_code=201, response_model=IssueOut, responses=ERRORS, summary="政法委：记录会议决定（交办一方限期办理，成为应办事项）")
def record_decision(request: Request, unit: Caller, issue_id: IssueId, body: DecisionIn) -> IssueOut:
    directory = _services(request).directory
    return _change(request, unit, issue_id, lambda session: decide(session, directory, unit, issue_id, body, utcnow()))


@router.post(
    "/v1/issues/{issue_id}/decisions/{decision_id}/done",
    response_model=IssueOut,
    responses=ERRORS,
    summary="承办单位（或代无平台账号单位的政法委）：报告决定事项办结",
)
def decision_done(request: Request, unit: Caller, issue_id: IssueId, decision_id: Annotated[str, Path(min_length=1, max_length=36)], body: NoteIn) -> IssueOut:
    return _change(request, unit, issue_id, lambda session: meet(session, unit, issue_id, decision_id, body.note, utcnow()))


@router.post("/v1/issues/{issue_id}/close", response_model=IssueOut, responses=ERRORS, summary="政法委：办结议题（各项决定均已办结）")
def close_issue(request: Request, unit: Caller, issue_id: IssueId, body: NoteIn) -> IssueOut:
    return _change(request, unit, issue_id, lambda session: close(session, unit, issue_id, body.note, utcnow()))


@router.post("/v1/issues/{issue_id}/reopen", response_model=IssueOut, responses=ERRORS, summary="政法委：重新打开已办结的议题")
def reopen_issue(request: Request, unit: Caller, issue_id: IssueId, body: NoteIn) -> IssueOut:
    return _change(request, unit, issue_id, lambda session: reopen(session, unit, issue_id, body.note))


def meeting_out(meeting: JointMeeting, agenda: list[tuple[MeetingIssue, str]]) -> MeetingOut:
    return MeetingOut(
        meeting_id=meeting.meeting_id,
        held_on=meeting.held_on,
        place=meeting.place,
        agenda=[AgendaItem(issue_id=i.issue_id, title=i.title, status_name=STATUS[status]) for i, status in agenda],
    )


@router.post("/v1/meetings", status_code=201, response_model=MeetingOut, responses=ERRORS, summary="政法委：召集联席会议（日期、地点）")
def create_meeting(request: Request, unit: Caller, body: MeetingIn) -> MeetingOut:
    with _services(request).store.write() as session:
        meeting = convene(session, unit, body, utcnow())
    return meeting_out(meeting, [])


@router.get("/v1/meetings", response_model=list[MeetingOut], responses=ERRORS, summary="本辖区的联席会议及各次会议议程（upcoming=true：今天及以后的，第一项即下次会议）")
def list_meetings(request: Request, unit: Caller, upcoming: Annotated[bool, Query(description="只列今天及以后的会议")] = True) -> list[MeetingOut]:
    with _services(request).store.read() as session:
        return [meeting_out(m, agenda) for m, agenda in meetings(session, unit, china_date(utcnow()), upcoming)]
