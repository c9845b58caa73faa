"""Obligations with statutory deadlines (法定期限): what a message obliges somebody to do, by when,
and whether it was done.

Which message opens which obligation, who owes it and how its due date is counted is data
(`rules/deadlines.yaml`), so a deployment follows its own rules without a code change. The
obligations themselves are never stored: they are derived from the stored messages, the rules
and a `now` (a pure function, so a test can move the clock). Only an escalation is recorded, once,
in the audit chain: that is the evidence that a missed deadline was made visible (零脱管漏管).
"""

from __future__ import annotations

import calendar
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts.catalog import kinds
from contracts.common import UnitType
from gateway.conversations import loops
from gateway.directory import Directory
from gateway.routing import RulesFile, dig
from gateway.store import Audit, AuditEntry, Store, StoredMessage
from gateway.workdays import CalendarGap, add_working_days, next_workday

CHINA = ZoneInfo("Asia/Shanghai")  # deadlines run by the calendar day in Beijing time
ESCALATED = "obligation.overdue"  # the audit event of an escalation
WATCHER = "watcher"  # the audit actor of an escalation


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Role(_Strict):
    """The recipients of the opening message that play this routing role."""

    role: str


PartyRule = Literal["sender", "person"] | Role


class InCase(_Strict):
    """Closed by a later message of one of these kinds in the same case (e.g. 入矫登记 closes the report)."""

    in_case: list[str] = Field(min_length=1)


class Due(_Strict):
    """One way of counting a due date; the first that applies to a message is used."""

    when: dict[str, Any] = {}
    date: str | None = None  # a date the message names
    after: str | None = None  # the date counted from: received_at or a payload date
    working_days: int | None = Field(default=None, ge=1)
    days: int | None = Field(default=None, ge=1)
    months: int | None = Field(default=None, ge=1)
    holiday_rollover: bool = False  # 期满日为节假日的，以节假日后的第一个工作日为期满日

    @model_validator(mode="after")
    def _one_way(self) -> Due:
        counts = [n for n in (self.working_days, self.days, self.months) if n is not None]
        if not ((self.date is not None and self.after is None and not counts) or (self.after is not None and len(counts) == 1)):
            raise ValueError("due: name either date, or after with exactly one of working_days, days, months")
        return self

    @property
    def paths(self) -> list[str]:
        """The message fields this way of counting reads."""
        return [*self.when, self.date or str(self.after)]


class Alert(_Strict):
    """A unit to alert besides the coordinators when the obligation is overdue."""

    role: str
    unit_type: UnitType
    place: str  # the area-code field of the opening message that locates the unit


class DeadlineRule(_Strict):
    id: str
    title: str
    basis: str  # 法律依据
    opened_by: str
    when: dict[str, Any] = {}
    owed_by: PartyRule
    owed_to: Literal["sender"] | Role
    closed_by: Literal["answer"] | InCase
    due: list[Due] = Field(min_length=1)
    alert: Alert | None = None


class Deadlines(_Strict):
    obligations: list[DeadlineRule]

    def check(self, routing: RulesFile) -> Deadlines:
        """Refuse rules that name an unknown kind or field, or a role the routing rules never give
        the opening kind: a renamed role would otherwise leave an obligation owed by nobody."""
        known = kinds()
        ids = [rule.id for rule in self.obligations]
        if len(ids) != len(set(ids)):
            raise ValueError(f"deadline rule ids declared twice: {sorted({i for i in ids if ids.count(i) > 1})}")
        for rule in self.obligations:
            closing = [] if rule.closed_by == "answer" else rule.closed_by.in_case
            for kind in [rule.opened_by, *closing]:
                if kind not in known:
                    raise ValueError(f"deadline rule {rule.id}: unknown kind {kind}")
            spec = known[rule.opened_by]
            if rule.closed_by == "answer" and not spec.awaits_answer:
                raise ValueError(f"deadline rule {rule.id}: {rule.opened_by} awaits no answer, so none can close it")
            paths = [*rule.when, *(path for due in rule.due for path in due.paths), *([rule.alert.place] if rule.alert else [])]
            for path in paths:
                top, _, rest = path.partition(".")
                if not (path == "received_at" or top == "payload" and rest.split(".")[0] in spec.payload.model_fields):
                    raise ValueError(f"deadline rule {rule.id}: {rule.opened_by} has no field {path}")
            roles = {target.role for r in routing.rules if rule.opened_by in r.kinds for target in r.deliver}
            for party in (rule.owed_by, rule.owed_to):
                if isinstance(party, Role) and party.role not in roles:
                    raise ValueError(f"deadline rule {rule.id}: no routing rule gives {rule.opened_by} a recipient role {party.role}")
        return self


def load_deadlines(path: Path, routing: RulesFile) -> Deadlines:
    return Deadlines.model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))).check(routing)


@dataclass(frozen=True)
class Party:
    """Who owes or is owed: a unit, or the person under correction (unit_code None)."""

    unit_code: str | None
    name: str


PERSON = Party(None, "社区矫正对象本人")


@dataclass(frozen=True)
class Obligation:
    rule: str
    title: str
    basis: str
    opened_by: str  # the message id that opened it
    kind: str
    case_number: str
    opened_at: datetime
    owed_by: tuple[Party, ...]
    owed_to: tuple[Party, ...]
    due_on: date | None  # None when it cannot be counted; `due_note` says why
    due_note: str | None
    closed_by: str | None  # the message that met it
    closed_at: datetime | None
    status: Literal["open", "met", "overdue"]

    @property
    def id(self) -> str:
        return f"{self.rule}/{self.opened_by}"

    @property
    def late(self) -> bool:
        """Met, but after the due date."""
        return self.closed_at is not None and self.due_on is not None and china_date(self.closed_at) > self.due_on


def china_date(at: datetime) -> date:
    return at.astimezone(CHINA).date()


def _received(message: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(message["received_at"]))


def _date_at(message: Mapping[str, Any], path: str) -> date | None:
    if path == "received_at":
        return china_date(_received(message))
    value = dig(message, path)
    return date.fromisoformat(value) if isinstance(value, str) else None


def _holds(when: Mapping[str, Any], message: Mapping[str, Any]) -> bool:
    return all(dig(message, path) == value for path, value in when.items())


def add_months(start: date, months: int) -> date:
    """The same day `months` later, or that month's last day when it has none (刑事诉讼法第一百零五条)."""
    year, month = divmod(start.month - 1 + months, 12)
    year, month = start.year + year, month + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def due_date(rule: DeadlineRule, message: Mapping[str, Any]) -> date | None:
    """The due date of `rule`'s obligation opened by `message`; None when no way of counting applies.

    Raises CalendarGap when the count needs a year the holiday schedule does not cover."""
    for way in rule.due:
        start = _date_at(message, way.date or str(way.after))
        if start is None or not _holds(way.when, message):
            continue
        if way.date is not None:
            return start
        if way.working_days is not None:
            return add_working_days(start, way.working_days)
        end = start + timedelta(days=way.days) if way.days is not None else add_months(start, way.months or 0)
        return next_workday(end) if way.holiday_rollover else end
    return None


def _parties(party: PartyRule, message: Mapping[str, Any]) -> tuple[Party, ...]:
    if party == "person":
        return (PERSON,)
    if party == "sender":
        return (Party(message["sender"]["unit_code"], message["sender"]["unit_name"]),)
    return tuple(Party(r["unit_code"], r["unit_name"]) for r in message.get("recipients") or [] if r["role"] == party.role)


def obligations(messages: Iterable[Mapping[str, Any]], rules: Deadlines, now: datetime) -> list[Obligation]:
    """Every obligation the rules find among `messages` (canonical JSON), as it stands at `now`.

    An obligation closed by `answer` is met when its loop is settled (the conversation rule); one
    closed `in_case` is met by the first later message of a closing kind in the same case that
    no earlier obligation of the same rule took."""
    ordered = sorted(messages, key=_received)
    by_id = {str(m["message_id"]): m for m in ordered}
    settled = {loop.message_id: loop.settled_by for loop in loops(ordered)}
    today = china_date(now)
    found: list[Obligation] = []
    for rule in rules.obligations:
        closing: dict[str, list[tuple[int, Mapping[str, Any]]]] = defaultdict(list)
        if rule.closed_by != "answer":
            for position, m in enumerate(ordered):
                if m["kind"] in rule.closed_by.in_case:
                    closing[m["case"]["case_number"]].append((position, m))
        taken: set[int] = set()
        for position, opener in enumerate(ordered):
            if opener["kind"] != rule.opened_by or not _holds(rule.when, opener):
                continue
            message_id = str(opener["message_id"])
            if rule.closed_by == "answer":
                closer = by_id.get(settled.get(message_id) or "")
            else:
                later = ((at, m) for at, m in closing[opener["case"]["case_number"]] if at > position and at not in taken)
                at, closer = next(later, (None, None))
                if at is not None:
                    taken.add(at)
            try:
                due, note = due_date(rule, opener), None
            except CalendarGap as gap:
                due, note = None, str(gap)
            if due is None and note is None:
                note = "报文缺少计算期限所需的日期"
            status: Literal["open", "met", "overdue"] = "met" if closer else "overdue" if due is not None and today > due else "open"
            found.append(
                Obligation(
                    rule=rule.id,
                    title=rule.title,
                    basis=rule.basis,
                    opened_by=message_id,
                    kind=rule.opened_by,
                    case_number=opener["case"]["case_number"],
                    opened_at=_received(opener),
                    owed_by=_parties(rule.owed_by, opener),
                    owed_to=_parties(rule.owed_to, opener),
                    due_on=due,
                    due_note=note,
                    closed_by=str(closer["message_id"]) if closer else None,
                    closed_at=_received(closer) if closer else None,
                    status=status,
                )
            )
    return found


def case_messages(session: Session, rules: Deadlines) -> list[StoredMessage]:
    """The stored messages of every case in which some message opened an obligation: the openers
    and everything that may close them."""
    cases = select(StoredMessage.case_number).where(StoredMessage.kind.in_({rule.opened_by for rule in rules.obligations}))
    return list(session.scalars(select(StoredMessage).where(StoredMessage.case_number.in_(cases))).all())


def escalations(session: Session, opened_by: Iterable[str]) -> dict[tuple[str, str], AuditEntry]:
    """The recorded escalations of the obligations opened by these messages, by (message id, rule)."""
    entries = session.scalars(select(AuditEntry).where(AuditEntry.event == ESCALATED, AuditEntry.subject.in_(set(opened_by)))).all()
    return {(str(entry.subject), str(entry.details["rule"])): entry for entry in entries}


def escalate(store: Store, rules: Deadlines, directory: Directory, now: datetime) -> list[Obligation]:
    """The watcher's step: record each obligation newly overdue at `now`, once (run twice, one
    escalation), with the unit its rule says to alert (the police station of the residence, for
    a missed report). Returns the obligations escalated by this call.

    Reading and recording happen in one write transaction, so two watchers never escalate twice."""
    by_id = {rule.id: rule for rule in rules.obligations}
    with store.write() as session:
        stored = case_messages(session, rules)
        bodies = {m.message_id: json.loads(m.body) for m in stored}
        overdue = [o for o in obligations(bodies.values(), rules, now) if o.status == "overdue"]
        done = escalations(session, [o.opened_by for o in overdue])
        audit = Audit(session)
        escalated: list[Obligation] = []
        for obligation in overdue:
            if (obligation.opened_by, obligation.rule) in done:
                continue
            alert = by_id[obligation.rule].alert
            place = dig(bodies[obligation.opened_by], alert.place) if alert else None
            unit = directory.resolve(alert.unit_type, place) if alert and isinstance(place, str) else None
            audit.append(
                WATCHER,
                ESCALATED,
                obligation.opened_by,
                rule=obligation.rule,
                title=obligation.title,
                case_number=obligation.case_number,
                due_on=obligation.due_on,
                owed_by=[p.unit_code or p.name for p in obligation.owed_by],
                alert_role=alert.role if alert else None,
                alert_unit=unit.code if unit else None,
            )
            escalated.append(obligation)
    return escalated
