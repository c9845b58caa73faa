"""An API with no room for one more document says so at once: 503, a stable code, a message the
clerk can act on and Retry-After, with nothing of the document written; a resend is accepted once
there is room. Alerts are never refused for load, and a large upload is refused before its body is
sent. The store is held by another writer here, so
that nothing the API prepares can be committed and the documents pile up as under overload."""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from gateway.broker_node import RabbitNode
from gateway.store import AuditEntry, StoredMessage
from tests.conftest import RunningGateway, gateway_in_vhost
from tests.flows import COURT, JUSTICE_BUREAU, sample, submit

pytestmark = pytest.mark.broker

ROOM = 2  # documents waiting for a preparing thread
QUICK = 0.5  # seconds: a refusal answers within this; an accepted submission waits for the store


def test_a_document_beyond_the_apis_room_is_refused_as_busy_and_nothing_of_it_is_written(rabbit: RabbitNode, tmp_path: Path) -> None:
    room = {"XIETONG_ACCEPT_THREADS": "2", "XIETONG_ACCEPT_WAITING_DOCUMENTS": str(ROOM)}
    with gateway_in_vhost(rabbit, tmp_path, "xietong-overload", extra_env=room, roles="api") as gateway, ThreadPoolExecutor(64) as pool:
        judgment = sample("court", "handover.judgment_effective.xml")
        held = os.open(gateway.data_dir / "xietong.db.writelock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(held, fcntl.LOCK_EX)  # another writer holds the store
        try:
            waiting: list[Future[httpx.Response]] = []
            refused: tuple[bytes, httpx.Response] | None = None
            for n in range(60):  # a group commit under way, the next one's documents, a thread held back, the queue
                document = judgment + f"<!-- {n} -->".encode()
                answer = pool.submit(submit, gateway, COURT, "court", document)
                try:
                    refused = (document, answer.result(QUICK))
                except TimeoutError:  # waiting for the store, as it should
                    waiting.append(answer)
                else:
                    break
            assert refused is not None, "60 documents waited and none was refused"
            document, busy = refused
            assert busy.status_code == 503, busy.text
            assert busy.headers["Retry-After"] == "1"
            error = busy.json()["error"]
            assert error["code"] == "gateway_busy"
            assert f"已有{ROOM}份报文排队待处理" in error["message"] and "重新报送" in error["message"]

            assert refused_before_its_body(gateway, gateway.keys[COURT]).startswith(b"HTTP/1.1 503 ")
            assert refused_before_its_body(gateway, "not-a-key").startswith(b"HTTP/1.1 401 "), "an unknown key is told so, not that the gateway is busy"

            alert = pool.submit(submit, gateway, JUSTICE_BUREAU, "canonical", sample("canonical", "supervision.alert.json"))
            time.sleep(QUICK)
            assert not alert.done(), f"an alert was answered while the store was held: {alert.result().text}"
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)
            os.close(held)

        assert alert.result(30).status_code == 202, "the alert waited for its turn instead"
        assert [w.result(30).status_code for w in waiting] == [202] * len(waiting)
        store = gateway.store()
        with store.read() as session:
            source = hashlib.sha256(document).hexdigest()
            assert session.scalar(select(func.count()).select_from(StoredMessage).where(StoredMessage.source_sha256 == source)) == 0
            events = session.scalars(select(AuditEntry.details)).all()
        assert not any(source in str(details) for details in events), "the refused document left an audit entry"
        store.engine.dispose()

        again = submit(gateway, COURT, "court", document)
        assert again.status_code == 202, again.text
        assert again.json()["duplicate"] is False


def refused_before_its_body(gateway: RunningGateway, api_key: str) -> bytes:
    """The answer to a 100 MB court upload whose sender waits to be told to send the body
    (`Expect: 100-continue`, as curl does for a large file): the body is never sent."""
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as connection:
        connection.sendall(
            b"POST /v1/inbound/court HTTP/1.1\r\nHost: gateway\r\nX-Api-Key: " + api_key.encode() + b"\r\n"
            b"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 100000000\r\nExpect: 100-continue\r\n\r\n"
        )
        return connection.recv(65536)
