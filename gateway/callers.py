"""Who is calling: every endpoint knows its caller as a unit of the directory, by its API key."""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader

from gateway.directory import UnitInfo
from gateway.errors import ErrorBody, Refusal

API_KEY = APIKeyHeader(name="X-Api-Key", auto_error=False, description="每个单位自己的API密钥")
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 413, 415, 422)}


async def current_unit(request: Request, api_key: Annotated[str | None, Depends(API_KEY)]) -> UnitInfo:
    """The authenticated unit: the only source of a message's sender. A known key is answered on
    the event loop; only an unknown one waits for a thread to reread the directory."""
    directory = request.app.state.services.directory
    unit = None
    if api_key:
        unit = directory.known(api_key) or await run_in_threadpool(directory.authenticate, api_key)
    if unit is None:
        raise Refusal(401, "unauthenticated", "缺少或无效的API密钥（请求头 X-Api-Key）")
    structlog.contextvars.bind_contextvars(unit=unit.code)
    return unit


Caller = Annotated[UnitInfo, Depends(current_unit)]
