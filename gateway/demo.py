"""The 惠民县 demo: a live gateway on the embedded defaults, fed with sample documents.

It loads the demo directory (court, procuratorate, public security, police stations, justice
bureau, 司法所, grids of 惠民县 371621), issues a key per unit, starts every role, submits the
court's handover, the bureau's receipt and the enrollment, a fence-breach alert, and a visit
task answered by the grid worker's report with photos; then the county committee takes the
alerted case to next week's joint meeting and assigns the 司法所 a decision. It prints where
everything went.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from gateway.broker_node import RabbitNode, ensure_rabbitmq_installed
from gateway.directory import issue_key, load_directory
from gateway.obligations import china_date
from gateway.settings import PACKAGE_DIR, Settings
from gateway.store import Store, utcnow

ROOT = PACKAGE_DIR.parent
COURT = "11371621004370011G"  # 惠民县人民法院
JUSTICE_BUREAU = "113716210043700740"  # 惠民县司法局
SUNWU_OFFICE = "11371621004370082T"  # 孙武司法所
SUNWU_STATION = "1137162100437004XA"  # 孙武派出所
WUDINGFU_GRID = "371621001003-01"  # 孙武街道武定府社区第一网格
COMMITTEE = "11371621004370119Y"  # 惠民县委政法委（县社区矫正委员会办公室）
ALERTED_CASE = "（2024）鲁1621刑初287号"  # the fence-breach sample's case
COURT_SAMPLES = ROOT / "adapters" / "court" / "samples"
CANONICAL_SAMPLES = ROOT / "adapters" / "canonical" / "samples"
GRID_SAMPLES = ROOT / "adapters" / "grid" / "samples"
JSON = {"Content-Type": "application/json"}


def run_demo(settings: Settings, keep_running: bool) -> int:
    node = None
    if not settings.broker_url:
        ensure_rabbitmq_installed()
        node = RabbitNode(settings.broker_dir, name="xietong")
        node.start()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.db_url)
    entries = load_directory(store, PACKAGE_DIR / "demo" / "directory.yaml")
    keys = {unit.code: issue_key(store, unit.code) for unit in entries.units}
    names = {unit.code: unit.name for unit in entries.units}
    keys_file = settings.data_dir / "demo-keys.json"
    keys_file.write_text(json.dumps({names[c]: {"code": c, "api_key": k} for c, k in keys.items()}, ensure_ascii=False, indent=2))
    os.chmod(keys_file, 0o600)

    gateway = subprocess.Popen([sys.executable, "-m", "gateway.cli", "run"], env=os.environ.copy())
    base = f"http://{settings.host}:{settings.port}"
    try:
        wait_healthy(base)
        court, bureau, office, grid, committee = (
            httpx.Client(base_url=base, headers={"X-Api-Key": keys[code]}, timeout=60)
            for code in (COURT, JUSTICE_BUREAU, SUNWU_OFFICE, WUDINGFU_GRID, COMMITTEE)
        )
        submitted = _submit_samples(court, bureau)
        for message_id, client in submitted:
            _wait_delivered(client, message_id)
        submitted += _submit_supervision(bureau, office, grid)
        _print_report(base, submitted, keys, names, keys_file)
        _coordinate(committee)
        if not keep_running:
            return 0
        print("\n网关运行中，按 Ctrl-C 结束。")
        return gateway.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if gateway.poll() is None:
            gateway.terminate()
            gateway.wait(30)
        if node is not None:
            node.stop()


def wait_healthy(base: str, timeout: float = 60) -> None:
    """Wait until the API at `base` answers its health check."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"网关未能在{timeout:.0f}秒内启动")


def _submit(client: httpx.Client, adapter: str, **request: Any) -> str:
    response = client.post(f"/v1/inbound/{adapter}", **request)
    if response.status_code != 202:
        raise RuntimeError(f"提交失败 {response.status_code}: {response.text}")
    return str(response.json()["message_id"])


def _submit_samples(court: httpx.Client, bureau: httpx.Client) -> list[tuple[str, httpx.Client]]:
    """The handover flow of one case, as the court and the justice bureau would send it."""
    xml = {"Content-Type": "application/xml"}
    notice = _submit(court, "court", content=(COURT_SAMPLES / "handover.judgment_effective.xml").read_bytes(), headers=xml)
    files = [("document", ("handover.documents.xml", (COURT_SAMPLES / "handover.documents.xml").read_bytes(), "application/xml"))]
    files += [("attachments", (name, (COURT_SAMPLES / name).read_bytes(), "application/pdf")) for name in ("判决书.pdf", "执行通知书.pdf", "结案登记表.pdf")]
    documents = _submit(court, "court", files=files)
    receipt = {
        "kind": "handover.receipt",
        "case": {"case_number": "（2025）鲁1621刑初123号"},
        "in_reply_to": documents,
        "payload": {"received_on": "2025-11-21", "received_documents": ["judgment", "execution_notice"], "signed_by": "张丽"},
    }
    answered = _submit(bureau, "canonical", json=receipt)
    enrolled = _submit(
        bureau, "canonical", content=(CANONICAL_SAMPLES / "enrollment.registered.json").read_bytes(), headers={"Content-Type": "application/json"}
    )
    return [(notice, court), (documents, court), (answered, bureau), (enrolled, bureau)]


def _submit_supervision(bureau: httpx.Client, office: httpx.Client, grid: httpx.Client) -> list[tuple[str, httpx.Client]]:
    """Supervision of another person of the same grid: the monitoring platform's fence-breach
    alert, then the 司法所's visit task and the grid worker's report answering it with photos."""
    alert = _submit(bureau, "canonical", content=(CANONICAL_SAMPLES / "supervision.alert.json").read_bytes(), headers=JSON)
    task = _submit(office, "canonical", content=(CANONICAL_SAMPLES / "supervision.visit_task.json").read_bytes(), headers=JSON)
    for message_id, client in ((alert, bureau), (task, office)):
        _wait_delivered(client, message_id)
    report = json.loads((GRID_SAMPLES / "supervision.visit_report.json").read_text(encoding="utf-8"))
    report["task_id"] = task
    files = [("document", ("report.json", json.dumps(report, ensure_ascii=False).encode(), "application/json"))]
    files += [("attachments", (photo["filename"], (GRID_SAMPLES / photo["filename"]).read_bytes(), "image/jpeg")) for photo in report["photos"]]
    answered = _submit(grid, "grid", files=files)
    _wait_delivered(grid, answered)
    return [(alert, bureau), (task, office), (answered, grid)]


def _coordinate(committee: httpx.Client) -> None:
    """The committee opens a joint-meeting issue on the alerted case, convenes next week's meeting,
    puts the issue on its agenda and assigns the 司法所 a decision, which becomes its obligation."""

    def call(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = committee.post(path, json=body)
        if response.status_code not in (200, 201):
            raise RuntimeError(f"联席会议操作失败 {response.status_code}: {response.text}")
        found: dict[str, Any] = response.json()
        return found

    issue = call("/v1/issues", {"from_case": ALERTED_CASE})
    today = china_date(utcnow())
    meeting = call("/v1/meetings", {"held_on": str(today + timedelta(days=7)), "place": "惠民县委政法委三楼会议室"})
    call(f"/v1/issues/{issue['issue_id']}/agenda", {"meeting_id": meeting["meeting_id"]})
    decision = {"text": "三日内约谈矫正对象并核查越界原因", "owed_by": SUNWU_OFFICE, "due_on": str(today + timedelta(days=3))}
    issue = call(f"/v1/issues/{issue['issue_id']}/decisions", decision)
    print("\n=== 联席会议 ===")
    print(f"  议题：{issue['title']}（{issue['status_name']}），参加单位：{'、'.join(p['name'] for p in issue['parties'])}")
    print(f"  会议：{meeting['held_on']}，{meeting['place']}")
    for d in issue["decisions"]:
        print(f"  决定：{d['text']}，承办 {d['owed_by_name']}，期限 {d['due_on']}（已成为其应办事项：GET /v1/obligations）")


def _wait_delivered(client: httpx.Client, message_id: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if client.get(f"/v1/messages/{message_id}").json()["status"] == "delivered":
            return
        time.sleep(0.2)
    raise RuntimeError(f"报文{message_id}未能在60秒内送达")


def _print_report(base: str, submitted: list[tuple[str, httpx.Client]], keys: dict[str, str], names: dict[str, str], keys_file: Path) -> None:
    print("\n=== 协同 Xietong 演示：惠民县（371621）===\n")
    for message_id, client in submitted:
        status = client.get(f"/v1/messages/{message_id}").json()
        print(f"■ {status['title']}  {status['case_number']}  报文编号 {message_id}")
        for delivery in status["deliveries"]:
            print(f"    → {delivery['recipient_name']:<16}（{delivery['role']}，规则 {delivery['rule']}）：{delivery['status']}")
    print("\n=== 各单位收件箱 ===")
    for code, key in keys.items():
        client = httpx.Client(base_url=base, headers={"X-Api-Key": key}, timeout=30)
        items = client.get("/v1/inbox").json()
        if not items:
            continue
        print(f"\n● {names[code]}（{code}）：{len(items)}件")
        for item in items:
            lines = client.get(f"/v1/inbox/{item['delivery_id']}").content.decode("utf-8").splitlines()
            preview = "\n      ".join(lines[:12] + (["…"] if len(lines) > 12 else []))
            print(f"  - {item['title']}（{item['media_type']}）来自 {item['sender_name']}\n      {preview}")
    print("\n=== 去哪里看 ===")
    print(f"  接口文档（OpenAPI）：{base}/docs")
    print(f"  网页控制台：{base}/console/（用下列任一单位的API密钥登录，例如派出所的实时警情页 {base}/console/live）")
    print(f"  各单位API密钥：{keys_file}")
    print(f"  示例：curl -H 'X-Api-Key: {keys[COURT]}' {base}/v1/messages/{submitted[1][0]}")
    print(f"  派出所实时告警流：curl -N -H 'X-Api-Key: {keys[SUNWU_STATION]}' {base}/v1/live")
