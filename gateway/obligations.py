"""Obligations with statutory deadlines (法定期限): what a message obliges somebody to do, by when,
and whether it was done.

Which message opens which obligation, who owes it and how its due date is counted is data
(`rules/deadlines.yaml`), so a deployment follows its own rules without a code change. The
obligations themselves are never stored: they are derived from the stored messages, the rules
and a `now` (a pure function, so a test can move the clock). Only an escalation is recorded, once,
in the audit chain: that is the evidence that a missed deadline was made visible (零脱管漏管).

An obligation may also be assigned rather than derived: a joint meeting's decision (联席会议决定)
owed by a party by a date (`AssignedObligation`, stored). Both kinds are the same `Obligation`, listed and
escalated by the same functions; an escalation also sends the committee's overdue notice
(督办通知) to the unit that owes it and the unit the rule names to alert.
"""

from __future__ import annotations

import calendar
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import structlog
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.base import registry
from contracts.catalog import kinds
from contracts.common import UnitType
from contracts.coordination import OverdueNotice, UnitRef
from gateway.acceptance import Acceptance
from gateway.conversations import loops, visible
from gateway.directory import Directory, UnitInfo
from gateway.errors import Refusal
from gateway.routing import Router, RulesFile, dig
from gateway.store import AssignedObligation, Audit, AuditEntry, Store, StoredMessage
from gateway.workdays import CalendarGap, add_working_days, next_workday

log = structlog.get_logger(__name__)

CHINA = ZoneInfo("Asia/Shanghai")  # deadlines run by the calendar day in Beijing time
ESCALATED = "obligation.overdue"  # the audit event of an escalation
WATCHER = "watcher"  # the audit actor of an escalation
NOTICE = "coordination.overdue_notice"  # the message an escalation sends


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
    opened_by: str  # the message id that opened it, or the key of an assigned obligation
    kind: str  # the opening message's kind, or the assigning rule
    case_number: str | None  # None: an assigned obligation about no particular case
    opened_at: datetime
    owed_by: tuple[Party, ...]
    owed_to: tuple[Party, ...]
    due_on: date | None  # None when it cannot be counted; `due_note` says why
    due_note: str | None
    closed_by: str | None  # the message that met it
    closed_at: datetime | None
    status: Literal["open", "met", "overdue"]
    closed_note: str | None = None  # what the owing unit said when it marked an assigned obligation done
    assigned: bool = False  # assigned by a decision (`opened_by` is its key), not derived from a message

    @property
    def id(self) -> str:
        return f"{self.rule}/{self.opened_by}"

    @property
    def late(self) -> bool:
        """Met, but after the due date."""
        return self.closed_at is not None and self.due_on is not None and china_date(self.closed_at) > self.due_on


def china_date(at: datetime) -> date:
    return at.astimezone(CHINA).date()


def _status(met: bool, due: date | None, today: date) -> Literal["open", "met", "overdue"]:
    return "met" if met else "overdue" if due is not None and today > due else "open"


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
            status = _status(closer is not None, due, today)
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


def assigned(rows: Iterable[AssignedObligation], now: datetime) -> list[Obligation]:
    """The assigned obligations as they stand at `now`: met once marked done, overdue after the due date."""
    today = china_date(now)
    return [
        Obligation(
            rule=row.rule,
            title=row.title,
            basis=row.basis,
            opened_by=row.key,
            kind=row.rule,
            case_number=row.case_number,
            opened_at=row.opened_at,
            owed_by=(Party(row.owed_by_code, row.owed_by_name),),
            owed_to=(Party(row.owed_to_code, row.owed_to_name),),
            due_on=row.due_on,
            due_note=None,
            closed_by=None,
            closed_at=row.met_at,
            status=_status(row.met_at is not None, row.due_on, today),
            closed_note=row.met_note,
            assigned=True,
        )
        for row in rows
    ]


def case_messages(session: Session, rules: Deadlines) -> list[StoredMessage]:
    """The stored messages of every case in which some message opened an obligation: the openers
    and everything that may close them."""
    cases = select(StoredMessage.case_number).where(StoredMessage.kind.in_({rule.opened_by for rule in rules.obligations}))
    return list(session.scalars(select(StoredMessage).where(StoredMessage.case_number.in_(cases))).all())


def standing(session: Session, rules: Deadlines, bodies: Iterable[Mapping[str, Any]], now: datetime) -> list[Obligation]:
    """Every obligation at `now`: those the rules derive from `bodies` (of the `case_messages`), and
    every assigned one."""
    return obligations(bodies, rules, now) + assigned(session.scalars(select(AssignedObligation)).all(), now)


def escalations(session: Session, opened_by: Iterable[str]) -> dict[tuple[str, str], AuditEntry]:
    """The recorded escalations of the obligations opened by these messages, by (message id, rule)."""
    entries = session.scalars(select(AuditEntry).where(AuditEntry.event == ESCALATED, AuditEntry.subject.in_(set(opened_by)))).all()
    return {(str(entry.subject), str(entry.details["rule"])): entry for entry in entries}


def divisions(obligation: Obligation, directory: Directory) -> list[str]:
    """The divisions whose units owe or are owed it, those owed first: whose committee coordinates it."""
    units = [directory.units.get(p.unit_code or "") for p in (*obligation.owed_to, *obligation.owed_by)]
    return list(dict.fromkeys(unit.division_code for unit in units if unit is not None))


@dataclass(frozen=True)
class Sighting:
    """An obligation as one unit may see it."""

    obligation: Obligation
    case_number: str | None  # as the unit's own view shows it
    closed_by: str | None  # the closing message, when the unit sees it
    closed_at: datetime | None
    side: Literal["owes", "owed", "party", "coordinating"]
    escalation: AuditEntry | None


def sightings(session: Session, rules: Deadlines, router: Router, unit: UnitInfo, now: datetime) -> list[Sighting]:
    """What `unit` may see of every obligation, soonest due first. A coordinator (the committee)
    sees every obligation of its division without message payloads; any other unit sees one when
    it sent or received the opening message (seeing the case number and the closing message as its
    own view shows them), or when it owes or is owed an assigned one."""
    stored = case_messages(session, rules)
    views = {seen.message.message_id: seen.view for seen in visible(session, router, unit.code, stored)}
    coordinator = unit.unit_type is UnitType.committee
    found: list[Sighting] = []
    for o in standing(session, rules, [json.loads(m.body) for m in stored], now):
        codes = {p.unit_code for p in (*o.owed_by, *o.owed_to)}
        owes = any(p.unit_code == unit.code for p in o.owed_by)
        side: Literal["owes", "owed", "party", "coordinating"] = "owes" if owes else "owed" if unit.code in codes else "party"
        if coordinator and unit.division_code in divisions(o, router.directory):
            found.append(Sighting(o, o.case_number, o.closed_by, o.closed_at, side if side != "party" else "coordinating", None))
        elif o.opened_by in views:
            shown = o.closed_by in views
            case_number = (views[o.opened_by].get("case") or {}).get("case_number")
            found.append(Sighting(o, case_number, o.closed_by if shown else None, o.closed_at if shown else None, side, None))
        elif o.assigned and unit.code in codes:
            found.append(Sighting(o, o.case_number, None, o.closed_at, side, None))
    escalated = escalations(session, [s.obligation.opened_by for s in found])
    found = [replace(s, escalation=escalated.get((s.obligation.opened_by, s.obligation.rule))) for s in found]
    return sorted(found, key=lambda s: (s.obligation.due_on or date.max, s.obligation.opened_at))


def escalate(store: Store, rules: Deadlines, directory: Directory, now: datetime, acceptance: Acceptance | None = None) -> list[Obligation]:
    """The watcher's step: record each obligation newly overdue at `now`, once (run twice, one
    escalation), with the unit its rule says to alert (the police station of the residence, for
    a missed report). With `acceptance`, first send the committee's overdue notice to that unit
    and the unit that owes it. Returns the obligations escalated by this call.

    The notice goes first and is the same document every time for one obligation, so acceptance
    takes a second sending as a duplicate: a watcher that dies between the notice and the record
    sends no second notice when the next pass escalates. The record re-checks inside its write
    transaction, so two watchers never escalate twice."""
    by_id = {rule.id: rule for rule in rules.obligations}
    with store.read() as session:
        bodies = {m.message_id: json.loads(m.body) for m in case_messages(session, rules)}
        overdue = [o for o in standing(session, rules, bodies.values(), now) if o.status == "overdue"]
        done = escalations(session, [o.opened_by for o in overdue])
    escalated: list[Obligation] = []
    for obligation in (o for o in overdue if (o.opened_by, o.rule) not in done):
        opener = bodies.get(obligation.opened_by)
        alert = by_id[obligation.rule].alert if obligation.rule in by_id else None
        place = dig(opener, alert.place) if alert and opener else None
        unit = directory.resolve(alert.unit_type, place) if alert and isinstance(place, str) else None
        alerted = UnitRef(role=alert.role, unit_type=unit.unit_type, place=str(place), unit_code=unit.code, unit_name=unit.name) if alert and unit else None
        notice = send_notice(acceptance, directory, obligation, alerted, opener) if acceptance else None
        with store.write() as session:
            if (obligation.opened_by, obligation.rule) in escalations(session, [obligation.opened_by]):
                continue
            Audit(session).append(
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
                notice=notice,
            )
        escalated.append(obligation)
    return escalated


def _place_of(unit: UnitInfo) -> str:
    """A place that locates `unit` in the directory: its division, or the longest code it covers."""
    return max(unit.covers, key=len) if unit.covers else unit.division_code


def send_notice(
    acceptance: Acceptance, directory: Directory, obligation: Obligation, alerted: UnitRef | None, opener: Mapping[str, Any] | None
) -> str | None:
    """Submit the overdue notice (督办通知) as the committee of the obligation's division, to the
    alerted unit and to the unit that owes it when its format carries the notice; the message id,
    or None when there is no committee, no case, or nobody to tell."""
    committee = next((u for d in divisions(obligation, directory) if (u := directory.resolve(UnitType.committee, d))), None)
    owing = directory.units.get(obligation.owed_by[0].unit_code or "") if len(obligation.owed_by) == 1 else None
    readable = owing is not None and NOTICE in registry()[owing.adapter].kinds_out
    owing_ref = UnitRef(role="义务单位", unit_type=owing.unit_type, place=_place_of(owing), unit_code=owing.code, unit_name=owing.name) if owing and readable else None
    if committee is None or obligation.case_number is None or obligation.due_on is None or not (alerted or owing_ref):
        return None
    asked = f"“{obligation.title}”已于{obligation.due_on.isoformat()}到期仍未办结，请{'、'.join(p.name for p in obligation.owed_by)}即行办理"
    if alerted:
        asked += f"，请{alerted.unit_name}（{alerted.role}）依职责协助处置"
    notice = OverdueNotice(
        obligation_id=obligation.id,
        title=obligation.title,
        basis=obligation.basis,
        due_on=obligation.due_on,
        owed_by=[p.name for p in obligation.owed_by],
        owed_to=[p.name for p in obligation.owed_to],
        owing_unit=owing_ref,
        alert_unit=alerted,
        person=((opener or {}).get("payload") or {}).get("person"),
        request=f"{asked}，并将结果反馈{committee.name}",
    )
    draft = {"kind": NOTICE, "case": {"case_number": obligation.case_number}, "payload": notice.model_dump(mode="json")}
    try:
        accepted = acceptance.accept(committee, "canonical", json.dumps(draft, ensure_ascii=False, sort_keys=True).encode(), [])
    except Refusal as refusal:
        log.warning("overdue_notice.refused", obligation=obligation.id, code=refusal.code, reason=refusal.message)
        return None
    log.info("overdue_notice.sent", obligation=obligation.id, message_id=accepted.message_id, duplicate=accepted.duplicate)
    return accepted.message_id

