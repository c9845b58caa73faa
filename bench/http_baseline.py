"""Baseline HTTP: the gateway's server stack (FastAPI + uvicorn as `xietong api` runs it) with an
endpoint that only parses and validates a court document with the court adapter.

The gap between this and the gateway's end-to-end rate is what the gateway adds on top of the
parse: storage, routing, the broker and rendering. Run as `python -m bench.http_baseline PORT`.
"""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI, Request, Response

from adapters.base import InboundError, registry

PARSE = registry()["court"].parse

app = FastAPI()


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/parse")
async def parse(request: Request) -> Response:
    """Parsed inline on the event loop: the raw limit, without the gateway's thread hop."""
    try:
        draft = PARSE(await request.body())
    except InboundError as exc:
        return Response(exc.code, status_code=422)
    return Response(draft.kind, status_code=200)


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
