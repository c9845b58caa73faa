"""The load generator and the meters: one asyncio loop with aiohttp submits at a fixed concurrency
or a fixed rate, a separate process reads the live alert stream, and a thread samples the RSS of
the gateway's processes. The generator shares the machine's two cores with what it measures, so
it is kept to one process and a few cheap steps per request: aiohttp costs the generator about a
third of the CPU per request that httpx did (0.3 of a core at 300 documents/s, taken from the
gateway it measures).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx

from gateway.cli import role_pids

Body = Callable[[int], bytes]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Sent:
    """One submission: when it was due (fixed rate) or sent (fixed concurrency), and the answer."""

    at: float  # epoch seconds, comparable with the store's delivered_at
    status: int  # 0: no answer (connection error or timeout)
    message_id: str | None
    deliveries: int
    answered_in: float  # from the send, not from `at`
    late: float  # from `at` to the send: the load generator's own lag at a fixed rate


@dataclass
class Stream:
    """What to submit: adapter path, the unit's key and a body per sequence number."""

    path: str
    api_key: str
    content_type: str
    body: Body
    sent: list[Sent] = field(default_factory=list)


def _session(base_url: str, connections: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=connections)
    return aiohttp.ClientSession(base_url=base_url, connector=connector, timeout=aiohttp.ClientTimeout(total=60))


async def _submit(client: aiohttp.ClientSession, stream: Stream, number: int, at: float) -> None:
    headers = {"X-Api-Key": stream.api_key, "Content-Type": stream.content_type}
    body = stream.body(number)
    began = time.time()
    message_id, deliveries = None, 0
    try:
        async with client.post(stream.path, data=body, headers=headers) as response:
            status = response.status
            if status in (200, 202) and response.content_type == "application/json":
                answer = await response.json()
                message_id, deliveries = answer.get("message_id"), len(answer.get("deliveries", ()))
            else:
                await response.read()
    except (aiohttp.ClientError, TimeoutError):
        stream.sent.append(Sent(at, 0, None, 0, time.time() - began, began - at))
        return
    stream.sent.append(Sent(at, status, message_id, deliveries, time.time() - began, began - at))


async def _closed_loop(base_url: str, stream: Stream, concurrency: int, seconds: float) -> None:
    counter = iter(range(10**9))
    deadline = time.monotonic() + seconds

    async def user(client: aiohttp.ClientSession) -> None:
        while time.monotonic() < deadline:
            await _submit(client, stream, next(counter), time.time())

    async with _session(base_url, concurrency) as client:
        await asyncio.gather(*(user(client) for _ in range(concurrency)))


async def _open_loop(base_url: str, stream: Stream, rate: float, seconds: float, max_in_flight: int) -> None:
    """Due times are fixed in advance and latency counts from them, so a stall is not hidden."""
    slots = asyncio.Semaphore(max_in_flight)
    tasks = set()
    start_mono, start_wall = time.monotonic(), time.time()

    async with _session(base_url, max_in_flight) as client:

        async def one(number: int, due: float) -> None:
            async with slots:
                await _submit(client, stream, number, due)

        for number in range(int(rate * seconds)):
            offset = number / rate
            delay = start_mono + offset - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(number, start_wall + offset))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)


def closed_loop(base_url: str, stream: Stream, concurrency: int, seconds: float) -> None:
    """Keep `concurrency` submissions in flight for `seconds`."""
    asyncio.run(_closed_loop(base_url, stream, concurrency, seconds))


def open_loop(base_url: str, streams: list[tuple[Stream, float]], seconds: float, max_in_flight: int = 400) -> None:
    """Each stream at its own fixed rate (per second), side by side, for `seconds`."""

    async def all_streams() -> None:
        await asyncio.gather(*(_open_loop(base_url, s, rate, seconds, max_in_flight) for s, rate in streams))

    asyncio.run(all_streams())


def idle_desks(base_url: str, api_key: str, desks: int, seconds: float) -> int:
    """`desks` live streams of one unit open for `seconds`, nothing sent meanwhile (as a county's
    police desks wait most of the day): how many opened."""

    async def desk(client: aiohttp.ClientSession, opened: list[int]) -> None:
        async with client.get("/v1/live", headers={"X-Api-Key": api_key}) as response:
            if response.status == 200:
                opened.append(1)
                async for _line in response.content:
                    pass

    async def all_desks() -> int:
        opened: list[int] = []
        async with aiohttp.ClientSession(base_url=base_url, connector=aiohttp.TCPConnector(limit=desks)) as client:
            tasks = [asyncio.create_task(desk(client, opened)) for _ in range(desks)]
            await asyncio.sleep(seconds)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return len(opened)

    return asyncio.run(all_desks())


def _read_live(base_url: str, api_key: str, connected: multiprocessing.synchronize.Event, events: multiprocessing.Queue) -> None:
    """Put (message_id, epoch received) for each alert event, and (ENDED, why) should the stream end;
    runs until its process is ended."""
    headers = {"X-Api-Key": api_key}
    try:
        with (
            httpx.Client(base_url=base_url, headers=headers, timeout=httpx.Timeout(10, read=None)) as client,
            client.stream("GET", "/v1/live") as response,
        ):
            response.raise_for_status()
            connected.set()
            for line in response.iter_lines():
                if line.startswith("data: "):
                    events.put((json.loads(line[6:])["message_id"], time.time()))
        events.put((ENDED, "the gateway closed the stream"))
    except Exception as exc:  # the bench reports it; the process ends either way
        events.put((ENDED, repr(exc)))


ENDED = "ended"  # put by the subscriber's process when its stream ends


class LiveSubscriber:
    """A server-sent-events client in a process of its own, so its timestamps do not wait on the load generator."""

    def __init__(self, base_url: str, api_key: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.connected, self.events = context.Event(), context.Queue()
        self.seen: dict[str, float] = {}
        self.ended: str | None = None
        self.process = context.Process(target=_read_live, args=(base_url, api_key, self.connected, self.events), daemon=True)
        self.process.start()
        if not self.connected.wait(30):
            self.close()
            raise RuntimeError("the live alert stream did not open")

    def received(self, expected: set[str], timeout: float) -> dict[str, float]:
        """Every event received: message id to epoch seconds, once every expected one is in or
        `timeout` has passed, or the stream has ended (`ended` says why)."""
        deadline = time.monotonic() + timeout
        while not expected <= self.seen.keys() and self.ended is None and (left := deadline - time.monotonic()) > 0:
            try:
                message_id, at = self.events.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if message_id == ENDED:
                self.ended = at
            else:
                self.seen[message_id] = at
        return self.seen

    def close(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(5)


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def gateway_roles(supervisor: int) -> dict[str, int]:
    """Role name to PID: the supervisor and each of its children."""
    return {"supervisor": supervisor, **role_pids(supervisor)}


class RssSampler:
    """Samples every gateway process's RSS; `peaks()` gives the peak per role and of the sum over
    every process of `xietong run` (supervisor and watcher too: they are the gateway's) since `reset()`."""

    def __init__(self, supervisor: int, interval: float = 0.05) -> None:
        self.supervisor, self.interval = supervisor, interval
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.peak: dict[str, int] = {}
        self.peak_sum = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def reset(self) -> None:
        with self.lock:
            self.peak, self.peak_sum = {}, 0

    def now(self) -> dict[str, int]:
        current = {}
        for role, pid in gateway_roles(self.supervisor).items():
            try:
                current[role] = _rss_bytes(pid)
            except OSError:
                continue
        return current

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            current = self.now()
            with self.lock:
                for role, rss in current.items():
                    self.peak[role] = max(self.peak.get(role, 0), rss)
                self.peak_sum = max(self.peak_sum, sum(current.values()))

    def peaks(self) -> tuple[dict[str, int], int]:
        with self.lock:
            return dict(self.peak), self.peak_sum

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(2)
