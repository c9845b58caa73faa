"""The envelope every canonical message travels in (DESIGN.md, "Messages")."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel, Field

from contracts.common import Agency, Contract, DocumentKind, UnitType
from contracts.identifiers import CaseNumber, DivisionCode

P = TypeVar("P", bound=BaseModel)


class Sender(Contract):
    """The authenticated unit that sent the message: set by the gateway, never by the document."""

    agency: Agency
    unit_type: UnitType
    unit_code: str
    unit_name: str
    division_code: DivisionCode


class CaseRef(Contract):
    """Which case (案号) and which person (a keyed hash of the ID, never the ID itself)."""

    case_number: CaseNumber
    person_key: str | None = None


class DocumentRef(Contract):
    """A file held content-addressed by the gateway (claim check): only the reference travels."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    media_type: str
    size: int = Field(ge=0)
    filename: str = Field(min_length=1, max_length=255)
    title: str = Field(min_length=1, max_length=200)
    document_kind: DocumentKind


class Recipient(Contract):
    """A unit the routing rules chose, the role it plays and the rule that chose it."""

    unit_code: str
    unit_name: str
    role: str
    rule: str


class Message(Contract, Generic[P]):
    """One canonical message; `payload` is the family model named by `kind`."""

    message_id: UUID
    kind: str
    schema_version: int = 1
    case: CaseRef
    in_reply_to: UUID | None = None
    sender: Sender
    recipients: list[Recipient] = []
    occurred_at: datetime
    received_at: datetime
    documents: list[DocumentRef] = []
    payload: P


class Draft(Contract, Generic[P]):
    """What an adapter makes of a native document: the message before the gateway stamps it.

    The gateway adds what only it may know: message id, sender, times, recipients, person key.
    `attachments` names each file the document references, so the gateway can match the
    uploaded parts (by file name) and check declared digests. A reply may leave out the case:
    a grid worker never sees the case number, so the gateway takes it from the answered message.
    """

    kind: str
    case: CaseRef | None = None
    in_reply_to: UUID | None = None
    occurred_at: datetime | None = None
    attachments: list[AttachmentClaim] = []
    payload: P


class AttachmentClaim(Contract):
    """A file the native document says it carries."""

    filename: str = Field(min_length=1, max_length=255)
    title: str = Field(min_length=1, max_length=200)
    document_kind: DocumentKind
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


Draft.model_rebuild()
