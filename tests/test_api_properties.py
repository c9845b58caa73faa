"""Properties of the HTTP interface against the running gateway over real HTTP: whatever a client
sends, the answer is never a server error (5xx).

(a) hypothesis: arbitrary bytes and mutated court samples to the inbound endpoints with various
    content types, arbitrary path ids for the read endpoints;
(b) schemathesis: cases generated from the gateway's own `/openapi.json`, with a valid key.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from functools import partial

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from tests.conftest import RunningGateway
from tests.test_handover_flow import COURT, COURT_SAMPLES, JUSTICE_BUREAU, ROOT

pytestmark = pytest.mark.broker

SAMPLES = [
    (COURT_SAMPLES / name).read_bytes()
    for name in ("handover.judgment_effective.xml", "handover.documents.xml", "handover.documents.gbk.xml", "handover.judgment_effective.gb18030.xml")
]
CANONICAL_SAMPLE = (ROOT / "adapters" / "canonical" / "samples" / "enrollment.registered.json").read_bytes()
CONTENT_TYPES = st.sampled_from(
    [
        "application/xml",
        "text/xml",
        "application/json",
        "text/plain",
        "application/octet-stream",
        "multipart/form-data",
        "multipart/form-data; boundary=xx",
        "application/xml; charset=gbk",
        "",
        "application/x-www-form-urlencoded",
    ]
)
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def court(gateway: RunningGateway) -> Iterator[httpx.Client]:
    with gateway.client(COURT) as client:
        yield client


@pytest.fixture(scope="module")
def bureau(gateway: RunningGateway) -> Iterator[httpx.Client]:
    with gateway.client(JUSTICE_BUREAU) as client:
        yield client


def assert_no_server_error(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400 and response.status_code != 405:
        assert "error" in response.json(), response.text[:500]


@st.composite
def mutated(draw: st.DrawFn, samples: list[bytes]) -> bytes:
    """A sample with a few bytes replaced, inserted or deleted, or cut short."""
    data = bytearray(draw(st.sampled_from(samples)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        operation = draw(st.sampled_from(["replace", "insert", "delete", "truncate", "text"]))
        if operation == "replace" and data:
            data[at] = draw(st.integers(0, 255))
        elif operation == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif operation == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif operation == "truncate":
            del data[at:]
        else:
            data[at:at] = draw(st.sampled_from(["<", "&", "]]>", "&amp;", "<!--", "\u0000", "𠮷", "<x>", "</", "\"", "版本=\"1\""])).encode()
    return bytes(data)


BODIES = st.one_of(st.binary(max_size=2000), mutated(SAMPLES), mutated([CANONICAL_SAMPLE]), st.text(max_size=500).map(str.encode))


@PROPERTY
@given(body=BODIES, content_type=CONTENT_TYPES, adapter=st.sampled_from(["court", "canonical"]))
def test_any_body_to_an_inbound_endpoint_is_never_a_server_error(
    court: httpx.Client, bureau: httpx.Client, body: bytes, content_type: str, adapter: str
) -> None:
    client = court if adapter == "court" else bureau
    headers = {"Content-Type": content_type} if content_type else {}
    assert_no_server_error(client.post(f"/v1/inbound/{adapter}", content=body, headers=headers))


@PROPERTY
@given(document=st.one_of(mutated(SAMPLES), st.binary(max_size=500)), attachment=st.binary(max_size=200), name=st.text(min_size=1, max_size=30))
def test_any_multipart_submission_is_never_a_server_error(court: httpx.Client, document: bytes, attachment: bytes, name: str) -> None:
    files = [("document", ("d.xml", document, "application/xml")), ("attachments", (name, attachment, "application/pdf"))]
    assert_no_server_error(court.post("/v1/inbound/court", files=files))


SEGMENT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="/?#"), min_size=1, max_size=80)
IDS = st.one_of(SEGMENT, st.uuids().map(str), st.text("0123456789abcdef-", min_size=1, max_size=64))


@PROPERTY
@given(first=IDS, second=IDS, route=st.sampled_from(["message", "inbox", "document", "ack"]))
def test_any_path_id_is_never_a_server_error(court: httpx.Client, first: str, second: str, route: str) -> None:
    quote = partial(urllib.parse.quote, safe="")  # one percent-encoded path segment
    path = {
        "message": f"/v1/messages/{quote(first)}",
        "inbox": f"/v1/inbox/{quote(first)}",
        "document": f"/v1/inbox/{quote(first)}/documents/{quote(second)}",
        "ack": f"/v1/inbox/{quote(first)}/ack",
    }[route]
    response = court.post(path) if route == "ack" else court.get(path)
    assert_no_server_error(response)
    if {quote(first), quote(second)} & {".", ".."}:  # httpx resolves dot segments: "/v1/inbox/." is the inbox list
        return
    if route != "ack" or response.status_code != 405:
        assert response.status_code in (404, 422), (path, response.status_code, response.text[:300])


# --- schemathesis: cases generated from the gateway's OpenAPI -------------------------------------


@pytest.fixture(scope="module")
def api_schema(gateway: RunningGateway) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{gateway.base_url}/openapi.json")


# Every operation but the live stream, which by design never ends (tests/test_live.py).
schema = schemathesis.pytest.from_fixture("api_schema").exclude(path="/v1/live")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_cases_are_never_a_server_error(case: schemathesis.Case, gateway: RunningGateway) -> None:
    response = case.call(base_url=gateway.base_url, headers={"X-Api-Key": gateway.keys[COURT]}, timeout=30)
    case.validate_response(response, checks=[not_a_server_error])
