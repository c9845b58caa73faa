"""The console's joint-meeting pages (联席会议): the issues a unit may see, the meetings ahead with
their agendas, and an issue's parties, cases, messages, decisions and history. Every form posts to
the API's own functions (`gateway.meetings_api`), so the console can do nothing the API refuses."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from adapters.base import dotted, explain
from contracts.common import UnitType
from gateway.console.pages import OBLIGATION_STATUS
from gateway.console.web import Signed, page, router, services_of
from gateway.errors import Refusal
from gateway.meetings import PARTIES, AgendaIn, DecisionIn, IssueIn, MeetingIn, NoteIn
from gateway.meetings_api import (
    close_issue,
    create_issue,
    create_meeting,
    decision_done,
    get_issue,
    list_issues,
    list_meetings,
    put_on_agenda,
    record_decision,
    reopen_issue,
)
from gateway.obligations import china_date
from gateway.store import utcnow

M = TypeVar("M", bound=BaseModel)
Text = Annotated[str, Form(max_length=2000)]


def _form(model: type[M], **fields: Any) -> M:
    """The form's fields as the API's request model; a mistake is refused in Chinese, naming the field."""
    given = {name: value for name, value in fields.items() if value not in ("", None, [])}
    try:
        return model.model_validate(given)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise Refusal(422, "form_invalid", f"填写有误：{explain(first)}", field=dotted(first["loc"]) or None) from None


def _to_issue(issue_id: str) -> Response:
    return RedirectResponse(f"/console/issues/{issue_id}", status_code=303)


@router.get("/issues")
def issues_page(request: Request, unit: Signed) -> HTMLResponse:
    """The issues this unit may see, the meetings ahead with their agendas; for the committee, the
    forms to open an issue by hand and to convene a meeting."""
    context = {
        "issues": list_issues(request, unit, None),
        "meetings": list_meetings(request, unit, True),
        "parties": PARTIES,
        "coordinator": unit.unit_type is UnitType.committee,
    }
    return page(request, "issues.html", context)


@router.post("/issues")
def open_issue_form(
    request: Request,
    unit: Signed,
    from_obligation: Annotated[str, Form(max_length=200)] = "",
    title: Annotated[str, Form(max_length=200)] = "",
    summary: Text = "",
    parties: Annotated[list[str] | None, Form()] = None,
    cases: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    draft = _form(IssueIn, from_obligation=from_obligation, title=title, summary=summary, parties=parties or [], cases=[cases] if cases else [])
    return _to_issue(create_issue(request, unit, draft).issue_id)


@router.post("/meetings")
def convene_form(request: Request, unit: Signed, held_on: Annotated[str, Form(max_length=10)] = "", place: Annotated[str, Form(max_length=200)] = "") -> Response:
    create_meeting(request, unit, _form(MeetingIn, held_on=held_on, place=place))
    return RedirectResponse("/console/issues", status_code=303)


@router.get("/issues/{issue_id}")
def issue_page(request: Request, unit: Signed, issue_id: str) -> HTMLResponse:
    issue = get_issue(request, unit, issue_id)
    coordinator = unit.unit_type is UnitType.committee
    context = {
        "issue": issue,
        "coordinator": coordinator,
        "status": OBLIGATION_STATUS,
        "meetings": list_meetings(request, unit, True) if coordinator else [],
        "units": sorted((u for u in services_of(request).directory.units_in(unit.division_code) if u.code != unit.code), key=lambda u: u.code) if coordinator else [],
        "today": china_date(utcnow()),
    }
    return page(request, "issue.html", context)


@router.post("/issues/{issue_id}/agenda")
def agenda_form(request: Request, unit: Signed, issue_id: str, meeting_id: Annotated[str, Form(max_length=36)] = "") -> Response:
    put_on_agenda(request, unit, issue_id, _form(AgendaIn, meeting_id=meeting_id))
    return _to_issue(issue_id)


@router.post("/issues/{issue_id}/decisions")
def decision_form(
    request: Request,
    unit: Signed,
    issue_id: str,
    text: Annotated[str, Form(max_length=200)] = "",
    owed_by: Annotated[str, Form(max_length=32)] = "",
    owed_by_name: Annotated[str, Form(max_length=100)] = "",
    due_on: Annotated[str, Form(max_length=10)] = "",
    case_number: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    decision = _form(DecisionIn, text=text, owed_by=owed_by, owed_by_name=owed_by_name, due_on=due_on, case_number=case_number)
    record_decision(request, unit, issue_id, decision)
    return _to_issue(issue_id)


@router.post("/issues/{issue_id}/decisions/{decision_id}/done")
def done_form(request: Request, unit: Signed, issue_id: str, decision_id: str, note: Text = "") -> Response:
    decision_done(request, unit, issue_id, decision_id, _form(NoteIn, note=note))
    return _to_issue(issue_id)


@router.post("/issues/{issue_id}/close")
def close_form(request: Request, unit: Signed, issue_id: str, note: Text = "") -> Response:
    close_issue(request, unit, issue_id, _form(NoteIn, note=note))
    return _to_issue(issue_id)


@router.post("/issues/{issue_id}/reopen")
def reopen_form(request: Request, unit: Signed, issue_id: str, note: Text = "") -> Response:
    reopen_issue(request, unit, issue_id, _form(NoteIn, note=note))
    return _to_issue(issue_id)
