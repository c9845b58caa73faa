"""The directory (目录) of divisions and agency units, and the resolution of a role to a unit.

County-level units (court, procuratorate, public security bureau, justice bureau) answer for
their whole division; police stations, 司法所 and grids answer for the area codes they cover,
and the longest covering prefix wins: the station of the residence, not the county bureau.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import ColumnElement, exists, or_, select

from adapters.base import registry
from contracts.common import Agency, UnitType
from contracts.identifiers import DivisionCode, _credit_code
from gateway.store import Audit, Delivery, Division, Store, StoredMessage, Unit

COUNTY_LEVEL = {UnitType.court, UnitType.procuratorate, UnitType.public_security_bureau, UnitType.justice_bureau, UnitType.committee}


class DivisionEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: DivisionCode
    name: str


class UnitEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=32)
    name: str
    type: UnitType
    division: DivisionCode
    adapter: str
    covers: list[str] = []
    webhook_url: str | None = None

    @model_validator(mode="after")
    def _checks(self) -> UnitEntry:
        if self.type is not UnitType.grid:
            _credit_code(self.code)
        if self.adapter not in registry():
            raise ValueError(f"unit {self.code}: unknown adapter {self.adapter}")
        if self.type not in COUNTY_LEVEL and not self.covers:
            raise ValueError(f"unit {self.code}: a {self.type} must list the area codes it covers")
        if any(not c.startswith(self.division) for c in self.covers):
            raise ValueError(f"unit {self.code}: covers codes outside division {self.division}")
        return self


class DirectoryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    divisions: list[DivisionEntry]
    units: list[UnitEntry]


@dataclass(frozen=True)
class UnitInfo:
    code: str
    name: str
    unit_type: UnitType
    division_code: str
    adapter: str
    covers: tuple[str, ...]
    webhook_url: str | None

    @property
    def agency(self) -> Agency:
        return self.unit_type.agency


def hash_key(api_key: str) -> str:
    """API keys are 256-bit random tokens, so a plain SHA-256 is a sufficient one-way store."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def load_directory(store: Store, path: Path) -> DirectoryFile:
    """Insert or update divisions and units from a directory file; issued keys stay valid."""
    entries = DirectoryFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    known = {d.code for d in entries.divisions}
    for entry in entries.units:
        if entry.division not in known:
            raise ValueError(f"unit {entry.code}: division {entry.division} is not in the directory")
    with store.write() as session:
        for division in entries.divisions:
            session.merge(Division(code=division.code, name=division.name))
        for entry in entries.units:
            unit = session.get(Unit, entry.code) or Unit(code=entry.code)
            unit.name, unit.unit_type, unit.agency = entry.name, entry.type.value, entry.type.agency.value
            unit.division_code, unit.adapter, unit.covers = entry.division, entry.adapter, entry.covers
            unit.webhook_url = entry.webhook_url
            session.add(unit)
        Audit(session).append("operator", "directory.loaded", str(path.name), units=len(entries.units))
    return entries


def issue_key(store: Store, unit_code: str) -> str:
    """A new API key for a unit (replacing the old one); only its hash is kept."""
    api_key = "xt_" + secrets.token_urlsafe(32)
    with store.write() as session:
        unit = session.get(Unit, unit_code)
        if unit is None:
            raise LookupError(f"no unit {unit_code} in the directory")
        unit.api_key_hash = hash_key(api_key)
        Audit(session).append("operator", "unit.key_issued", unit_code)
    return api_key


class Directory:
    """An in-memory view of the directory, read from the store; refreshed when a key is unknown."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.refresh()

    def refresh(self) -> None:
        with self.store.read() as session:
            rows = session.scalars(select(Unit)).all()
            self.divisions = {d.code: d.name for d in session.scalars(select(Division))}
        self.units = {
            u.code: UnitInfo(u.code, u.name, UnitType(u.unit_type), u.division_code, u.adapter, tuple(u.covers), u.webhook_url)
            for u in rows
        }
        self._read_at = time.monotonic()
        self._by_key = {u.api_key_hash: self.units[u.code] for u in rows if u.api_key_hash}

    def authenticate(self, api_key: str) -> UnitInfo | None:
        """The unit holding `api_key`; an unknown key rereads the directory at most once a second."""
        if (unit := self.known(api_key)) is None and time.monotonic() - self._read_at > 1.0:
            self.refresh()
            unit = self.known(api_key)
        return unit

    def known(self, api_key: str) -> UnitInfo | None:
        """The unit holding `api_key` as last read, without touching the store."""
        return self._by_key.get(hash_key(api_key))

    def units_in(self, division_code: str) -> list[UnitInfo]:
        """The units of one division (a county): what its committee (政法委) coordinates."""
        return [u for u in self.units.values() if u.division_code == division_code]

    def involving(self, division_code: str) -> ColumnElement[bool]:
        """A condition on stored messages: sent by, or addressed to, a unit of the division."""
        local = [u.code for u in self.units_in(division_code)]
        addressed = exists().where(Delivery.message_id == StoredMessage.message_id, Delivery.recipient_code.in_(local))
        return or_(StoredMessage.sender_code.in_(local), addressed)

    def resolve(self, unit_type: UnitType, place: str) -> UnitInfo | None:
        """The unit of `unit_type` in charge of `place` (a division code or a longer area code)."""
        candidates = [u for u in self.units.values() if u.unit_type is unit_type and u.division_code == place[:6]]
        if unit_type in COUNTY_LEVEL:
            return candidates[0] if candidates else None
        best: tuple[int, UnitInfo] | None = None
        for unit in candidates:
            for prefix in unit.covers:
                if place.startswith(prefix) and (best is None or len(prefix) > best[0]):
                    best = (len(prefix), unit)
        return best[1] if best else None
