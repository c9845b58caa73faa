"""Refusals the API turns into 4xx answers: a stable code, a Chinese message, line and field."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.responses import JSONResponse


class Refusal(Exception):
    """`retry_after` (seconds) marks a refusal of the moment, not of the request: the answer says
    when to send it again (HTTP Retry-After)."""

    def __init__(self, status: int, code: str, message: str, *, line: int | None = None, field: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.line, self.field = status, code, message, line, field
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "line": self.line, "field": self.field}}

    def response(self) -> JSONResponse:
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else None
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


class ErrorDetail(BaseModel):
    code: str
    message: str
    line: int | None = None
    field: str | None = None


class ErrorBody(BaseModel):
    """Every 4xx and 503 answer has this shape; `code` is stable, `message` is for the clerk."""

    error: ErrorDetail
