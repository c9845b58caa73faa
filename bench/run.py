"""Issue 6's benchmark: the gateway against the raw limits of this machine, side by side in one run.

The machines are shared and noisy, so absolute figures drift from run to run; the ratios to the
baselines measured minutes apart in the same run are what to compare. One run starts a private
RabbitMQ node and a gateway with production settings (JSON logs at info, the durable SQLite
store, or with --store postgresql a private PostgreSQL cluster) on fresh folders, measures,
prints every figure next to its target, writes them as JSON to bench/results/, and stops
everything it started, also on Ctrl-C or an error.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from bench import broker_baseline, load
from gateway.broker_node import RabbitNode, ensure_rabbitmq_installed, free_port
from gateway.demo import wait_healthy
from gateway.directory import issue_key, load_directory
from gateway.logs import configure_logging
from gateway.settings import PACKAGE_DIR
from gateway.store import Delivery, Store
from tests.postgres_node import PostgresNode

ROOT = PACKAGE_DIR.parent
RESULTS = ROOT / "bench" / "results"
DEMO_DIRECTORY = PACKAGE_DIR / "demo" / "directory.yaml"
COURT = "11371621004370011G"  # 惠民县人民法院: sends the handover documents
PROCURATORATE = "11371621004370020E"  # 惠民县人民检察院: one of their three recipients
JUSTICE_BUREAU = "113716210043700740"  # 惠民县司法局: sends the fence-breach alerts
SUNWU_STATION = "1137162100437004XA"  # 孙武派出所: receives them on its live stream
PY_SPY = str(Path(sys.executable).with_name("py-spy"))  # installed beside this Python by the bench extra
DOCUMENT_BYTES = 3000  # the issue's "about 3 KB" court document
ATTACHMENT_MB = 200
LIVE_DESKS = 30  # a county's police desks, each with the live stream open


@dataclass(frozen=True)
class Mode:
    broker_messages: int
    http_seconds: float
    saturate_seconds: float
    fixed_seconds: float
    alert_seconds: float
    drain_seconds: float


MODES = {
    "default": Mode(broker_messages=60_000, http_seconds=15, saturate_seconds=45, fixed_seconds=12, alert_seconds=12, drain_seconds=120),
    "quick": Mode(broker_messages=15_000, http_seconds=6, saturate_seconds=10, fixed_seconds=5, alert_seconds=5, drain_seconds=30),
}


def court_documents(tag: str) -> Callable[[int], bytes]:
    """Distinct, valid court handover documents of about 3 KB: the sample without its attachment
    list (load runs carry no files), its 备注 made unique by `tag` and the number, and padded."""
    sample = (ROOT / "adapters" / "court" / "samples" / "handover.documents.xml").read_text("utf-8")
    without_files = re.sub(r"\s*<附件列表>.*</附件列表>", "", sample, flags=re.DOTALL)
    head, tail = without_files.split("<备注>", 1)
    tail = tail.split("</备注>", 1)[1]
    note = "纸质文书原件另以EMS寄送。已告知罪犯应于判决生效之日起十日内到执行地县级社区矫正机构报到，并告知逾期不报到的法律后果。"
    padding_chars = (DOCUMENT_BYTES - len((head + tail).encode()) - len("<备注></备注>压测编号 -00000000。")) // 3
    filler = (note * 20)[: max(0, padding_chars - len(tag))]

    def body(number: int) -> bytes:
        return f"{head}<备注>{filler}压测编号{tag}-{number:08d}。</备注>{tail}".encode()

    return body


def fence_breach_alerts() -> Callable[[int], bytes]:
    """The bureau's fence-breach alert, each one detected a microsecond earlier than the last."""
    alert = json.loads((ROOT / "adapters" / "canonical" / "samples" / "supervision.alert.json").read_text("utf-8"))
    detected = datetime.fromisoformat(alert["payload"]["detected_at"])

    def body(number: int) -> bytes:
        alert["payload"]["detected_at"] = (detected - timedelta(microseconds=number + 1)).isoformat()
        return json.dumps(alert, ensure_ascii=False).encode()

    return body


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


class Meter:
    """CPU used by each gateway role, the broker and this load generator over one phase: who was busy."""

    def __init__(self, supervisor: int, broker: RabbitNode, postgres: PostgresNode | None) -> None:
        self.supervisor, self.broker, self.postgres = supervisor, broker, postgres

    def _pids(self) -> dict[str, list[int]]:
        pids = {role: [pid] for role, pid in load.gateway_roles(self.supervisor).items() if role != "supervisor"}
        pids["rabbitmq"] = self.broker._beam_pids()
        if self.postgres:
            pids["postgresql"] = self.postgres.pids()  # its backends are the gateway's pooled connections
        return pids

    @staticmethod
    def _cpu(pids: list[int]) -> dict[int, float]:
        """CPU seconds so far of each process of `pids` still there when read."""
        used = {}
        for pid in pids:
            try:
                used[pid] = load.cpu_seconds(pid)
            except OSError:  # ended meanwhile
                continue
        return used

    @contextmanager
    def phase(self, into: dict[str, Any]) -> Iterator[None]:
        """The processes alive at the end, each counted from the start or from its birth: the
        database's backends come with the pools' connections, mid-phase as often as not."""
        before = {role: self._cpu(pids) for role, pids in self._pids().items()}
        mine = resource.getrusage(resource.RUSAGE_SELF)
        began = time.monotonic()
        yield
        wall = time.monotonic() - began
        after = resource.getrusage(resource.RUSAGE_SELF)
        cores = {}
        for role, pids in self._pids().items():
            used = self._cpu(pids)
            if used:
                cores[role] = sum(seconds - before.get(role, {}).get(pid, 0.0) for pid, seconds in used.items()) / wall
        cores["load_generator"] = (after.ru_utime + after.ru_stime - mine.ru_utime - mine.ru_stime) / wall
        into["cpu_cores_used"] = {role: round(used, 2) for role, used in cores.items()}


def epoch(stored: datetime) -> float:
    """A time from the store as epoch seconds (SQLite gives its UTC times back naive)."""
    return (stored if stored.tzinfo else stored.replace(tzinfo=UTC)).timestamp()


class Inboxes:
    """Reads the gateway's store directly: which deliveries sit in their inbox, and since when."""

    def __init__(self, url: str) -> None:
        self.store = Store(url)

    def _rows(self, query: Any) -> list[Any]:
        with self.store.read(snapshot=False) as session:
            return list(session.execute(query))

    def pending(self) -> int:
        return int(self._rows(select(func.count()).where(Delivery.delivered_at.is_(None)))[0][0])

    def wait_drained(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.pending():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)
        return True

    def delivered(self) -> dict[str, list[float]]:
        """Message id to the epoch seconds each of its deliveries landed in its inbox."""
        landed: dict[str, list[float]] = {}
        for message_id, at in self._rows(select(Delivery.message_id, Delivery.delivered_at).where(Delivery.delivered_at.is_not(None))):
            landed.setdefault(message_id, []).append(epoch(at))
        return landed

    def delivered_to(self, recipient: str) -> dict[str, float]:
        """Message id to the epoch seconds its delivery to `recipient` landed in that inbox."""
        query = select(Delivery.message_id, Delivery.delivered_at).where(Delivery.recipient_code == recipient, Delivery.delivered_at.is_not(None))
        return {message_id: epoch(at) for message_id, at in self._rows(query)}

    def close(self) -> None:
        self.store.engine.dispose()


def summarise(stream: load.Stream, landed: dict[str, list[float]], began: float, drained: bool) -> dict[str, Any]:
    """Submission figures and, for what was accepted, latency to the inbox and the completed rate."""
    accepted = [s for s in stream.sent if s.status == 202 and s.message_id]
    statuses = Counter(s.status for s in stream.sent)
    latencies, last, expected, arrived, complete = [], began, 0, 0, 0
    for sent in accepted:
        times = landed.get(sent.message_id, [])
        expected += sent.deliveries
        arrived += len(times)
        complete += len(times) == sent.deliveries
        latencies += [at - sent.at for at in times]
        last = max([last, *times])
    span = last - began
    return {
        "submitted": len(stream.sent),
        "accepted": len(accepted),
        "refused_or_failed": {str(status): count for status, count in statuses.items() if status != 202},
        "deliveries_expected": expected,
        "deliveries_in_inbox": arrived,
        "all_in_inbox": drained and arrived == expected,
        "http_answer_p50_ms": ms(percentile([s.answered_in for s in accepted], 0.5)),
        "http_answer_p99_ms": ms(percentile([s.answered_in for s in accepted], 0.99)),
        "documents_per_s": round(complete / span, 1) if span > 0 else None,
        "deliveries_per_s": round(arrived / span, 1) if span > 0 else None,
        "inbox_latency_p50_ms": ms(percentile(latencies, 0.5)),
        "inbox_latency_p99_ms": ms(percentile(latencies, 0.99)),
        "inbox_latency_max_ms": ms(max(latencies, default=None)),
    }


class Bench:
    def __init__(
        self, mode_name: str, concurrency: int, profile: bool, timers: bool, keep: bool, stack: ExitStack, alert_documents: int, store: str
    ) -> None:
        self.mode_name, self.mode, self.concurrency, self.profile, self.timers = mode_name, MODES[mode_name], concurrency, profile, timers
        self.alert_documents = alert_documents  # documents/s under the alerts
        self.store = store  # sqlite (the embedded default) or postgresql (a private cluster)
        self.postgres: PostgresNode | None = None
        self.stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        self.work = Path(tempfile.mkdtemp(prefix="xietong-bench-"))
        if keep:
            print(f"work folder kept: {self.work}")
        else:
            stack.callback(shutil.rmtree, self.work, ignore_errors=True)
        self.stack = stack
        self.results: dict[str, Any] = {"mode": mode_name, "store": store, "started": self.stamp, "concurrency": concurrency, "machine": machine()}
        self.documents = court_documents("B")

    def step(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    def process(self, argv: list[str], log_name: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """A child that is ended (SIGTERM, then SIGKILL) when the run ends however it ends."""
        log = (self.work / log_name).open("ab")
        child = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.stack.callback(stop_process, child)
        self.stack.callback(log.close)
        return child

    def run(self) -> dict[str, Any]:
        ensure_rabbitmq_installed()
        self.step("starting a private RabbitMQ node")
        self.node = RabbitNode(self.work / "rabbit", name="xietong-bench")
        self.stack.callback(self.node.stop)
        self.node.start()
        self.baseline_broker()
        self.baseline_http()
        self.start_gateway()
        self.live_desks()
        self.saturate()
        self.fixed_rate(300, "fixed_300")
        # below saturation, so that the latency seen is the pipeline's, not the queue's
        self.fixed_rate(max(10, round(self.results["end_to_end"]["documents_per_s"] / 2, -1)), "fixed_half")
        self.alerts()
        self.attachment()
        self.results["memory"]["under_load_peak_mb"] = self.load_peaks()
        if self.timers:
            stop_process(self.gateway)  # each role writes its timers as it stops
            self.results["timers"] = {path.stem: json.loads(path.read_text()) for path in sorted((self.work / "timers").glob("*.json"))}
        return self.results

    def baseline_broker(self) -> None:
        self.step(f"baseline broker: {self.mode.broker_messages} confirmed publishes + consumes of {len(self.documents(0))} B to a quorum queue")
        figures = broker_baseline.measure(self.node.url, self.documents(0), self.mode.broker_messages)
        self.results["baseline_broker"] = {key: round(value, 1) for key, value in asdict(figures).items()}

    def baseline_http(self) -> None:
        port = free_port()
        self.step(f"baseline HTTP: court parse + validate on FastAPI/uvicorn, {self.concurrency} connections, {self.mode.http_seconds:.0f} s")
        server = self.process([sys.executable, "-m", "bench.http_baseline", str(port)], "http-baseline.log")
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, timeout=30)
        load.closed_loop(base, load.Stream("/parse", "", "application/xml", court_documents("W")), self.concurrency, 2)
        stream = load.Stream("/parse", "", "application/xml", self.documents)
        figures: dict[str, Any] = {}
        server_cpu = load.cpu_seconds(server.pid)
        mine = resource.getrusage(resource.RUSAGE_SELF)
        began = time.monotonic()
        load.closed_loop(base, stream, self.concurrency, self.mode.http_seconds)
        wall = time.monotonic() - began
        after = resource.getrusage(resource.RUSAGE_SELF)
        ok = [s for s in stream.sent if s.status == 200]
        figures.update(
            requests=len(stream.sent),
            ok=len(ok),
            requests_per_s=round(len(ok) / wall, 1),
            p50_ms=ms(percentile([s.answered_in for s in ok], 0.5)),
            p99_ms=ms(percentile([s.answered_in for s in ok], 0.99)),
            cpu_cores_used={
                "server": round((load.cpu_seconds(server.pid) - server_cpu) / wall, 2),
                "load_generator": round((after.ru_utime + after.ru_stime - mine.ru_utime - mine.ru_stime) / wall, 2),
            },
        )
        stop_process(server)
        self.results["baseline_http"] = figures

    def start_gateway(self) -> None:
        self.step("starting the gateway (xietong run: api, relay, worker keeping the watch) with production settings")
        data = self.work / "gateway"
        data.mkdir()
        url = f"sqlite:///{data / 'xietong.db'}"
        if self.store == "postgresql":
            self.step("starting a private PostgreSQL cluster for the store")
            self.postgres = PostgresNode()
            self.stack.callback(self.postgres.stop)
            self.postgres.start()
            url = self.postgres.database("bench")
        store = Store(url)
        load_directory(store, DEMO_DIRECTORY)
        self.keys = {code: issue_key(store, code) for code in (COURT, PROCURATORATE, JUSTICE_BUREAU, SUNWU_STATION)}
        store.engine.dispose()
        port = free_port()
        env = {
            **os.environ,
            "XIETONG_DATA_DIR": str(data),
            "XIETONG_BROKER_URL": self.node.url,
            "XIETONG_PORT": str(port),
            "XIETONG_LOG_FORMAT": "json",
            "XIETONG_LOG_LEVEL": "info",
            **({"XIETONG_DATABASE_URL": url} if self.postgres else {}),
        }
        if self.timers:
            env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "bench" / "timers"), *filter(None, [os.environ.get("PYTHONPATH")])])
            (self.work / "timers").mkdir()
            env["XIETONG_BENCH_TIMERS"] = str(self.work / "timers")
        self.gateway = self.process([sys.executable, "-m", "gateway.cli", "run"], "gateway.log", env)
        self.base = f"http://127.0.0.1:{port}"
        wait_healthy(self.base, timeout=60)
        self.inboxes = Inboxes(url)
        self.stack.callback(self.inboxes.close)
        self.rss = load.RssSampler(self.gateway.pid)
        self.stack.callback(self.rss.close)
        self.meter = Meter(self.gateway.pid, self.node, self.postgres)
        self.under_load: list[tuple[dict[str, int], int]] = []
        warm = self.court_stream("W")
        load.closed_loop(self.base, warm, 4, 2)
        if not self.inboxes.wait_drained(60):
            raise RuntimeError(f"the warm-up documents did not reach their inboxes; see {self.work / 'gateway.log'}")
        self.results["memory"] = {"idle_after_warmup_mb": mb(self.rss.now())}

    def court_stream(self, tag: str) -> load.Stream:
        return load.Stream("/v1/inbound/court", self.keys[COURT], "application/xml", court_documents(tag))

    def load_peaks(self) -> dict[str, Any]:
        roles: dict[str, int] = {}
        for peak, _ in self.under_load:
            for role, rss in peak.items():
                roles[role] = max(roles.get(role, 0), rss)
        return {**mb(roles), "roles_sum": round(max(total for _, total in self.under_load) / 2**20, 1)}

    @contextmanager
    def loaded_phase(self, name: str) -> Iterator[dict[str, Any]]:
        """RSS peaks and CPU per role for one load phase, filed under results[name]."""
        figures: dict[str, Any] = {}
        self.rss.reset()
        with self.meter.phase(figures):
            yield figures
        peak, total = self.rss.peaks()
        self.under_load.append((peak, total))
        figures["peak_rss_mb"] = {**mb(peak), "roles_sum": round(total / 2**20, 1)}
        self.results[name] = figures

    def drain(self, figures: dict[str, Any]) -> tuple[bool, dict[str, list[float]]]:
        drained = self.inboxes.wait_drained(self.mode.drain_seconds)
        if not drained:
            figures["undelivered_after_drain"] = self.inboxes.pending()
        return drained, self.inboxes.delivered()

    def live_desks(self) -> None:
        seconds = self.mode.fixed_seconds
        self.step(f"{LIVE_DESKS} desks of 孙武派出所 on the live stream, nothing sent, {seconds:.0f} s")
        with self.loaded_phase("live_desks") as figures:
            figures["desks_open"] = load.idle_desks(self.base, self.keys[SUNWU_STATION], LIVE_DESKS, seconds)

    def saturate(self) -> None:
        seconds = self.mode.saturate_seconds
        self.step(f"end to end: court documents at {self.concurrency} in flight for {seconds:.0f} s, then until every delivery is in its inbox")
        stream = self.court_stream("S")
        with self.loaded_phase("end_to_end") as figures, self.profiling(seconds):
            began = time.time()
            load.closed_loop(self.base, stream, self.concurrency, seconds)
            figures["submitting_s"] = round(time.time() - began, 1)
            drained, landed = self.drain(figures)
        figures.update(summarise(stream, landed, began, drained))
        figures["accepted_per_s"] = round(figures["accepted"] / figures["submitting_s"], 1)
        if not figures["documents_per_s"]:
            raise RuntimeError(f"no document submitted reached its inbox ({figures['refused_or_failed']} refused or failed); see {self.work / 'gateway.log'} (--keep keeps it)")

    def fixed_rate(self, rate: float, name: str) -> None:
        seconds = self.mode.fixed_seconds
        self.step(f"end to end at a fixed {rate:.0f} documents/s for {seconds:.0f} s")
        stream = self.court_stream(name)
        with self.loaded_phase(name) as figures:
            began = time.time()
            load.open_loop(self.base, [(stream, rate)], seconds)
            drained, landed = self.drain(figures)
        figures.update(rate=rate, **summarise(stream, landed, began, drained))

    def alerts(self) -> None:
        seconds = self.mode.alert_seconds
        self.step(f"alerts: 200 fence-breach alerts/s to 孙武派出所's live stream on top of {self.alert_documents} documents/s, {seconds:.0f} s")
        documents = self.court_stream("A")
        alerts = load.Stream("/v1/inbound/canonical", self.keys[JUSTICE_BUREAU], "application/json", fence_breach_alerts())
        subscriber = load.LiveSubscriber(self.base, self.keys[SUNWU_STATION])
        self.stack.callback(subscriber.close)
        with self.loaded_phase("alerts") as figures:
            began = time.time()
            load.open_loop(self.base, [(documents, self.alert_documents), (alerts, 200)], seconds)
            drained, landed = self.drain(figures)
        sent = [s for s in alerts.sent if s.status == 202 and s.message_id]
        received = subscriber.received({s.message_id for s in sent if s.message_id}, timeout=10)
        if subscriber.ended:
            figures["live_stream_ended"] = subscriber.ended
        subscriber.close()
        latencies = [received[s.message_id] - s.at for s in sent if s.message_id in received]
        placed = self.inboxes.delivered_to(SUNWU_STATION)
        to_inbox = [placed[s.message_id] - (s.at + s.late + s.answered_in) for s in sent if s.message_id in placed]
        to_stream = [received[s.message_id] - placed[s.message_id] for s in sent if s.message_id in received and s.message_id in placed]
        figures.update(
            alerts_accepted=len(sent),
            alerts_refused_or_failed=len(alerts.sent) - len(sent),
            alerts_received=len(latencies),
            alert_p50_ms=ms(percentile(latencies, 0.5)),
            alert_p99_ms=ms(percentile(latencies, 0.99)),
            alert_max_ms=ms(max(latencies, default=None)),
            alert_sent_late_p50_ms=ms(percentile([s.late for s in sent], 0.5)),  # the load generator's share
            alert_sent_late_p99_ms=ms(percentile([s.late for s in sent], 0.99)),
            alert_answer_p50_ms=ms(percentile([s.answered_in for s in sent], 0.5)),  # the API's share: 202 back
            alert_answer_p99_ms=ms(percentile([s.answered_in for s in sent], 0.99)),
            # after the 202: the relay, the broker and the worker until it places the alert, then
            # the worker's commit and the live stream's poll until the subscriber reads it
            alert_to_inbox_p50_ms=ms(percentile(to_inbox, 0.5)),
            alert_to_inbox_p99_ms=ms(percentile(to_inbox, 0.99)),
            alert_inbox_to_stream_p50_ms=ms(percentile(to_stream, 0.5)),
            alert_inbox_to_stream_p99_ms=ms(percentile(to_stream, 0.99)),
            documents=summarise(documents, landed, began, drained),
            documents_rate=self.alert_documents,
        )

    def attachment(self) -> None:
        self.step(f"a {ATTACHMENT_MB} MB attachment: submitted as multipart, then retrieved through the documents endpoint")
        path, sha, size = write_attachment(self.work / "bench-200MB.pdf")
        document = attachment_document(sha, size)
        time.sleep(1)
        idle = self.rss.now()
        self.rss.reset()
        figures: dict[str, Any] = {"idle_before_mb": mb(idle)}
        with httpx.Client(base_url=self.base, timeout=600) as client, path.open("rb") as content:
            began = time.monotonic()
            files = [
                ("document", ("handover.documents.xml", document, "application/xml")),
                ("attachments", (path.name, content, "application/pdf")),
            ]
            response = client.post("/v1/inbound/court", files=files, headers={"X-Api-Key": self.keys[COURT]})
            figures["upload_s"] = round(time.monotonic() - began, 1)
            if response.status_code != 202:
                raise RuntimeError(f"the attachment submission was refused: {response.status_code} {response.text[:500]}")
            delivery = next(d["delivery_id"] for d in response.json()["deliveries"] if d["recipient"] == PROCURATORATE)
            if not self.inboxes.wait_drained(60):
                raise RuntimeError("the attachment's deliveries did not reach their inboxes")
            began = time.monotonic()
            digest = hashlib.sha256()
            with client.stream("GET", f"/v1/inbox/{delivery}/documents/{sha}", headers={"X-Api-Key": self.keys[PROCURATORATE]}) as download:
                download.raise_for_status()
                for chunk in download.iter_bytes(1 << 20):
                    digest.update(chunk)
            figures["download_s"] = round(time.monotonic() - began, 1)
        path.unlink()
        if digest.hexdigest() != sha:
            raise RuntimeError("the retrieved attachment differs from the submitted one")
        time.sleep(0.2)
        peak, total = self.rss.peaks()
        figures["peak_mb"] = {**mb(peak), "roles_sum": round(total / 2**20, 1)}
        figures["extra_rss_mb"] = {role: round((peak[role] - idle.get(role, 0)) / 2**20, 1) for role in peak}
        figures["extra_rss_mb"]["roles_sum"] = round((total - sum(idle.values())) / 2**20, 1)
        self.results["attachment"] = figures

    @contextmanager
    def profiling(self, seconds: float) -> Iterator[None]:
        """With --profile, py-spy samples api, relay and worker during the phase (collapsed stacks)."""
        if not self.profile:
            yield
            return
        recorders = {}
        for role, pid in load.gateway_roles(self.gateway.pid).items():
            if role == "supervisor":
                continue
            out = RESULTS / f"{self.stamp}-{role}.folded"
            argv = [PY_SPY, "record", "--nonblocking", "--format", "raw", "--rate", "50", "--duration", str(int(seconds)), "--pid", str(pid), "-o", str(out)]
            recorders[role] = (self.process(argv, f"py-spy-{role}.log"), out)
        yield
        self.results["profile"] = {}
        for role, (recorder, out) in recorders.items():
            recorder.wait(seconds + 30)
            self.results["profile"][role] = {"file": str(out.relative_to(ROOT)), "top_self": top_frames(out)}


def top_frames(folded: Path, count: int = 12) -> list[tuple[str, float]]:
    """The frames where the samples were taken (self time), as a share of all samples."""
    if not folded.exists():
        return []
    leaves: Counter[str] = Counter()
    for line in folded.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        leaves[stack.rsplit(";", 1)[-1]] += int(samples)
    total = sum(leaves.values()) or 1
    return [(frame, round(100 * n / total, 1)) for frame, n in leaves.most_common(count)]


def write_attachment(path: Path) -> tuple[Path, str, int]:
    """A file of ATTACHMENT_MB incompressible bytes, and its sha256."""
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for _ in range(ATTACHMENT_MB):
            chunk = os.urandom(1 << 20)
            digest.update(chunk)
            out.write(chunk)
    return path, digest.hexdigest(), ATTACHMENT_MB << 20


def attachment_document(sha: str, size: int) -> bytes:
    """The court sample with an attachment list declaring just the big file."""
    sample = (ROOT / "adapters" / "court" / "samples" / "handover.documents.xml").read_text("utf-8")
    listing = f'<附件列表>\n    <附件 文件名="bench-200MB.pdf" 文书类型="判决书" sha256="{sha}" 大小="{size}" 媒体类型="application/pdf">压测大附件</附件>\n  </附件列表>'
    return re.sub(r"<附件列表>.*</附件列表>", listing, sample, flags=re.DOTALL).encode()


def mb(rss: dict[str, int]) -> dict[str, float]:
    return {role: round(value / 2**20, 1) for role, value in rss.items()}


def stop_process(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def machine() -> dict[str, Any]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "?")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
    return {"cores": os.cpu_count(), "cpu": model, "commit": commit, "python": sys.version.split()[0]}


def fmt(value: Any, unit: str = "") -> str:
    return "—" if value is None else f"{value:,}{unit}" if isinstance(value, int | float) else str(value)


def report(r: dict[str, Any]) -> str:
    """The table: every figure, its target where the issue sets one, and the ratios to the baselines."""
    broker, http, e2e, fixed, alerts, memory, attachment = (
        r["baseline_broker"], r["baseline_http"], r["end_to_end"], r["fixed_300"], r["alerts"], r["memory"], r["attachment"]
    )
    half = r["fixed_half"]

    def verdict(value: float | None, target: float, at_least: bool) -> str:
        if value is None:
            return "no figure"
        return "met" if (value >= target if at_least else value <= target) else "NOT met"

    def refusals(phase: dict[str, Any]) -> str:
        """Submissions not accepted, by HTTP status (503: the gateway was busy and said to send again; 0: no answer)."""
        refused = phase["refused_or_failed"]
        return f"; not accepted: {', '.join(f'{count} × {status}' for status, count in sorted(refused.items()))}" if refused else ""

    def ratio(a: float | None, b: float | None) -> str:
        return "—" if not a or not b else f"{a / b:.1%}"

    docs_per_s = e2e["documents_per_s"] if e2e["all_in_inbox"] else None
    rows = [
        ("baseline broker: confirmed publish + consume, msgs/s", fmt(broker["end_to_end_per_s"]), "", f"publish alone {fmt(broker['publish_per_s'])}/s, {broker['bytes_each']} B each"),
        ("baseline HTTP: court parse + validate, requests/s", fmt(http["requests_per_s"]), "", f"p50 {fmt(http['p50_ms'])} ms, p99 {fmt(http['p99_ms'])} ms"),
        (f"end to end: documents/s into every inbox ({r.get('store', 'sqlite')} store)", fmt(e2e["documents_per_s"]), "≥ 1,000", verdict(docs_per_s, 1000, True)),
        ("end to end: deliveries/s", fmt(e2e["deliveries_per_s"]), "≥ 3,000", verdict(e2e["deliveries_per_s"] if e2e["all_in_inbox"] else None, 3000, True)),
        ("end to end: accepted (HTTP 202)/s while submitting", fmt(e2e["accepted_per_s"]), "", f"answer p50 {fmt(e2e['http_answer_p50_ms'])} ms, p99 {fmt(e2e['http_answer_p99_ms'])} ms{refusals(e2e)}"),
        ("end to end: submission → inbox p50 / p99, ms", f"{fmt(e2e['inbox_latency_p50_ms'])} / {fmt(e2e['inbox_latency_p99_ms'])}", "", f"all in inbox: {e2e['all_in_inbox']}"),
        ("ratio end-to-end documents/s ÷ baseline HTTP", ratio(e2e["documents_per_s"], http["requests_per_s"]), "", ""),
        ("ratio end-to-end deliveries/s ÷ baseline broker", ratio(e2e["deliveries_per_s"], broker["end_to_end_per_s"]), "", ""),
        # met only if every document was accepted: a 503 (busy) would shorten the queue the others waited in
        ("at 300 documents/s: submission → inbox p50 / p99, ms", f"{fmt(fixed['inbox_latency_p50_ms'])} / {fmt(fixed['inbox_latency_p99_ms'])}", "p99 ≤ 100", verdict(fixed["inbox_latency_p99_ms"] if fixed["all_in_inbox"] and not fixed["refused_or_failed"] else None, 100, False)),
        ("at 300 documents/s: achieved documents/s", fmt(fixed["documents_per_s"]), "", f"answer p99 {fmt(fixed['http_answer_p99_ms'])} ms, all in inbox: {fixed['all_in_inbox']}{refusals(fixed)}"),
        (
            f"at {half['rate']:.0f} documents/s, half the end-to-end rate: submission → inbox p50 / p99, ms",
            f"{fmt(half['inbox_latency_p50_ms'])} / {fmt(half['inbox_latency_p99_ms'])}",
            "",
            f"achieved {fmt(half['documents_per_s'])}/s, answer p99 {fmt(half['http_answer_p99_ms'])} ms, all in inbox: {half['all_in_inbox']}{refusals(half)}",
        ),
        (f"alerts at 200/s + {alerts['documents_rate']} docs/s: submit → SSE p50 / p99, ms", f"{fmt(alerts['alert_p50_ms'])} / {fmt(alerts['alert_p99_ms'])}", "p99 ≤ 100", verdict(alerts["alert_p99_ms"] if alerts["alerts_received"] == alerts["alerts_accepted"] else None, 100, False)),
        ("alerts received / accepted", f"{alerts['alerts_received']} / {alerts['alerts_accepted']}", "all", f"documents meanwhile: inbox p99 {fmt(alerts['documents']['inbox_latency_p99_ms'])} ms{refusals(alerts['documents'])}" + (f"; the live stream ended: {alerts['live_stream_ended']}" if "live_stream_ended" in alerts else "")),
        ("alerts: sent after their due time p50 / p99, ms", f"{fmt(alerts['alert_sent_late_p50_ms'])} / {fmt(alerts['alert_sent_late_p99_ms'])}", "", "the load generator's own lag, counted in the latency above"),
        ("alerts: 202 answered in p50 / p99, ms", f"{fmt(alerts['alert_answer_p50_ms'])} / {fmt(alerts['alert_answer_p99_ms'])}", "", "the API's share of the latency above"),
        ("alerts: 202 → placed in the inbox p50 / p99, ms", f"{fmt(alerts['alert_to_inbox_p50_ms'])} / {fmt(alerts['alert_to_inbox_p99_ms'])}", "", "relay, broker, worker"),
        ("alerts: placed → read from the stream p50 / p99, ms", f"{fmt(alerts['alert_inbox_to_stream_p50_ms'])} / {fmt(alerts['alert_inbox_to_stream_p99_ms'])}", "", "worker's commit, stream's poll"),
        (
            f"{LIVE_DESKS} live desks open, nothing sent: api CPU, cores",
            fmt(r["live_desks"]["cpu_cores_used"].get("api")),
            "",
            f"{r['live_desks']['desks_open']} streams opened; the api's idle cost of the live stream",
        ),
        ("gateway peak RSS under load, MB (every process)", fmt(memory["under_load_peak_mb"]["roles_sum"]), "< 400", verdict(memory["under_load_peak_mb"]["roles_sum"], 400, False)),
        ("  per role, MB", ", ".join(f"{k} {v}" for k, v in memory["under_load_peak_mb"].items() if k != "roles_sum"), "", f"idle after warm-up: {memory['idle_after_warmup_mb']}"),
        (f"{ATTACHMENT_MB} MB attachment: extra RSS, MB (roles summed)", fmt(attachment["extra_rss_mb"]["roles_sum"]), "< 64", verdict(attachment["extra_rss_mb"]["roles_sum"], 64, False)),
        ("  per role, MB", ", ".join(f"{k} {v}" for k, v in attachment["extra_rss_mb"].items() if k != "roles_sum"), "", f"upload {attachment['upload_s']} s, download {attachment['download_s']} s"),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"{'figure':<{widths[0]}}  {'measured':>{widths[1]}}  {'target':<{widths[2]}}  note", "-" * (sum(widths) + 30)]
    lines += [f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c:<{widths[2]}}  {d}" for a, b, c, d in rows]
    lines.append("")
    lines.append("CPU cores used per phase (2 cores in all; the load generator runs on the same machine):")
    for phase in ("baseline_http", "live_desks", "end_to_end", "fixed_300", "fixed_half", "alerts"):
        lines.append(f"  {phase:<14} " + ", ".join(f"{k} {v}" for k, v in r[phase]["cpu_cores_used"].items()))
    for role, kinds in r.get("timers", {}).items():
        for kind, timers in kinds.items():
            lines.append(f"timers inside the {role}, {kind} (whole run): " + "; ".join(f"{timer} p50 {t['p50']} / p90 {t['p90']} / p99 {t['p99']} {t['unit']}".rstrip() for timer, t in timers.items()))
    for role, profile in r.get("profile", {}).items():
        lines.append(f"py-spy, {role} ({profile['file']}), self time: " + "; ".join(f"{frame} {share}%" for frame, share in profile["top_self"][:8]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short phases: a smoke run of under two minutes")
    parser.add_argument("--concurrency", type=int, default=50, help="submissions in flight for the baseline HTTP and end-to-end runs")
    parser.add_argument("--profile", action="store_true", help="py-spy the gateway's roles during the end-to-end run (slows it)")
    parser.add_argument("--timers", action="store_true", help="time acceptance and the group commit in the API, publishing in the relay, placing in the worker, and the write lock in each (bench/timers)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, store, broker data)")
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite", help="the gateway's store: the embedded SQLite file, or a private PostgreSQL cluster (the design's store at scale)")
    parser.add_argument("--alert-documents", type=int, default=300, metavar="N", help="court documents/s under the alert phase's 200 alerts/s (default 300; 0 for the alerts alone)")
    args = parser.parse_args(argv)
    configure_logging("console", "warning")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with ExitStack() as stack:
        bench = Bench("quick" if args.quick else "default", args.concurrency, args.profile, args.timers, args.keep, stack, args.alert_documents, args.store)
        results = bench.run()
        results["duration_s"] = round(time.monotonic() - started, 1)
        out = RESULTS / f"{bench.stamp}.json"
        out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
        print()
        print(report(results))
        print(f"\nfigures written to {out.relative_to(ROOT)}; run took {results['duration_s']} s; stopping everything")
    return 0


if __name__ == "__main__":
    sys.exit(main())
