"""Who is calling: every endpoint knows its caller as a unit of the directory, by its API key."""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from gateway.directory import UnitInfo
from gateway.errors import ErrorBody, Refusal

API_KEY = APIKeyHeader(name="X-Api-Key", auto_error=False, description="每个单位自己的API密钥")
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 413, 415, 422)}


def current_unit(request: Request, api_key: Annotated[str | None, Depends(API_KEY)]) -> UnitInfo:
    """The authenticated unit: the only source of a message's sender."""
    unit = request.app.state.services.directory.authenticate(api_key) if api_key else None
    if unit is None:
        raise Refusal(401, "unauthenticated", "缺少或无效的API密钥（请求头 X-Api-Key）")
    structlog.contextvars.bind_contextvars(unit=unit.code)
    return unit


Caller = Annotated[UnitInfo, Depends(current_unit)]
