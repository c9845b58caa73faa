"""The console's machinery: its router, the signed-in unit, HTML answers and the sign-in form.

A unit signs in with the same API key it uses for the API; the signed session cookie then holds
only its unit code (never the key). Every page takes the unit from the session and asks the API's
own functions for what that unit may see, so the console cannot show more than the API would.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from contracts.common import Agency, UnitType
from gateway.directory import UnitInfo
from gateway.errors import Refusal
from gateway.obligations import CHINA
from gateway.services import Services

log = structlog.get_logger(__name__)

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
COOKIE = "xietong_console"
SESSION_SECONDS = 8 * 3600  # one working day; then the unit signs in again

UNIT_TYPES = {
    UnitType.court: "人民法院",
    UnitType.procuratorate: "人民检察院",
    UnitType.public_security_bureau: "公安局",
    UnitType.police_station: "派出所",
    UnitType.justice_bureau: "司法局",
    UnitType.justice_office: "司法所",
    UnitType.grid: "网格",
    UnitType.committee: "政法委",
}
AGENCIES = {
    Agency.court: "法院",
    Agency.procuratorate: "检察院",
    Agency.police: "公安机关",
    Agency.justice: "司法行政机关",
    Agency.grid: "网格",
    Agency.committee: "政法委",
}


class SignInRequired(Exception):
    """No valid console session: the page answers with the sign-in form instead."""


class ConsoleRoute(APIRoute):
    """Console pages answer in HTML: a refusal becomes an error page in Chinese with the same status,
    a missing session a redirect to the sign-in form (the API's JSON handlers stay as they are)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                return RedirectResponse(f"/console/login?next={quote(request.url.path)}", status_code=303)
            except Refusal as refusal:
                log.info("console.page_refused", path=request.url.path, code=refusal.code)
                return page(request, "error.html", {"refusal": refusal}, status_code=refusal.status)

        return console_handler


router = APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute, default_response_class=HTMLResponse)


def china_time(moment: datetime | None) -> str:
    """A stored UTC time as the clerk reads it: Beijing time."""
    if moment is None:
        return "—"
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite gives stored UTC times back naive
    return aware.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["china_time"] = china_time


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def signed_in(request: Request) -> UnitInfo | None:
    """The unit of this browser's session, while the directory still has it."""
    code = request.session.get("unit")
    return services_of(request).directory.units.get(code) if isinstance(code, str) else None


def console_unit(request: Request) -> UnitInfo:
    unit = signed_in(request)
    if unit is None:
        raise SignInRequired
    structlog.contextvars.bind_contextvars(unit=unit.code)
    return unit


Signed = Annotated[UnitInfo, Depends(console_unit)]


def page(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    unit = signed_in(request)
    common = {"unit": unit, "unit_type": UNIT_TYPES.get(unit.unit_type) if unit else None, "agencies": AGENCIES}
    response: HTMLResponse = templates.TemplateResponse(request, template, {**common, **context}, status_code=status_code)
    return response


def api_endpoint(request: Request, name: str) -> Callable[..., Any]:
    """One of the API's own endpoint functions, by its route name: the console renders what it returns."""
    return next(route.endpoint for route in request.app.router.routes if isinstance(route, APIRoute) and route.name == name)


@router.get("/static/{name}", response_class=FileResponse)
def static(name: str) -> FileResponse:
    if name not in {path.name for path in STATIC.iterdir()}:
        raise Refusal(404, "not_found", "没有这个文件")
    return FileResponse(STATIC / name, headers={"Cache-Control": "max-age=300"})


def _safe_next(target: str | None) -> str:
    """Only back into the console: a crafted link must not send the clerk elsewhere after sign-in."""
    return target if target and target.startswith("/console/") and not target.startswith("/console//") else "/console/"


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return page(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login")
def login(request: Request, api_key: Annotated[str, Form(max_length=200)] = "", next: Annotated[str, Form(max_length=500)] = "") -> Response:
    key = api_key.strip()
    unit = services_of(request).directory.authenticate(key) if key else None
    if unit is None:
        log.info("console.sign_in_refused", reason="empty" if not key else "unknown_key")
        message = "请输入本单位的API密钥（字段：API密钥）" if not key else "API密钥无效：没有持有该密钥的单位，请核对后重新输入（字段：API密钥）"
        return page(request, "login.html", {"next": _safe_next(next), "error": message}, status_code=422 if not key else 401)
    request.session.clear()
    request.session["unit"] = unit.code
    log.info("console.signed_in", unit=unit.code)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request) -> Response:
    code = request.session.get("unit")
    request.session.clear()
    log.info("console.signed_out", unit=code)
    return RedirectResponse("/console/login", status_code=303)
