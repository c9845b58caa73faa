"""`xietong`: run the gateway (all roles, or one role per process), and operate it.

Each command imports what it needs when it runs. `xietong run` becomes the supervisor
(`gateway.supervisor`), which lives as long as the gateway and imports only the logger.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from gateway.broker_node import RabbitNode, ensure_rabbitmq_installed
from gateway.logs import configure_logging
from gateway.settings import Settings

if TYPE_CHECKING:
    from gateway.services import Services

log = structlog.get_logger(__name__)

ROLES = ("api", "relay", "worker", "watcher")


def private_node(settings: Settings) -> RabbitNode:
    return RabbitNode(settings.broker_dir, name="xietong")


def broker_url(settings: Settings) -> str:
    return settings.broker_url or private_node(settings).url


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    """Start the private broker unless one is configured, then become the supervisor of one
    process per role (`gateway.supervisor`), which starts a role again should it die."""
    started_node = not settings.broker_url
    if started_node:
        ensure_rabbitmq_installed()
        private_node(settings).start()
    # glibc gives each thread of the API's pool a malloc arena of its own; two keep its RSS ~20 MB lower
    env = {"MALLOC_ARENA_MAX": "2", **os.environ, "XIETONG_BROKER_URL": broker_url(settings)}
    commands = {role: [role] for role in args.roles.split(",")}
    if "worker" in commands and "watcher" in commands:
        # One query a minute did not earn a process (70 MB under load): the worker keeps the watch.
        del commands["watcher"]
        commands["worker"].append("--watch")
    role = [sys.executable, "-m", "gateway.cli"]
    plan = {
        "commands": {name: [*role, *command] for name, command in commands.items()},
        "on_exit": [*role, "broker", "stop"] if started_node and args.stop_broker else None,
        "log_format": settings.log_format,
        "log_level": settings.log_level,
    }
    os.execve(sys.executable, [sys.executable, "-m", "gateway.supervisor", json.dumps(plan)], env)


def role_pids(supervisor: int) -> dict[str, int]:
    """The role each running child of `xietong run` plays, by pid, read back from the command line
    `cmd_run` gave it (`python -m gateway.cli worker --watch`): for the bench and the kill tests."""
    try:
        children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    except OSError:
        return {}
    roles: dict[str, int] = {}
    for child in children:
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"gateway.cli" in argv:
            roles[argv[argv.index(b"gateway.cli") + 1].decode()] = int(child)
    return roles


def cmd_api(settings: Settings, _args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.api import create_app
    from gateway.services import Services

    app = create_app(Services.build(settings))
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False, log_config=None)  # its records go through ours
    return 0


def cmd_relay(settings: Settings, _args: argparse.Namespace) -> int:
    from gateway.relay import OutboxRelay
    from gateway.store import Store

    relay = OutboxRelay(
        Store(settings.db_url), broker_url(settings), settings.relay_max_in_flight, settings.relay_poll_seconds, settings.retry_delays_ms
    )
    signal.signal(signal.SIGTERM, lambda *_: relay.stop())
    relay.run()
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.base import registry
    from gateway.broker import PUSH
    from gateway.services import Services
    from gateway.worker import Worker

    services = Services.build(settings)
    keys = args.queues.split(",") if args.queues else [*registry(), PUSH]
    worker = Worker(settings, services.store, services.router, broker_url(settings), keys)
    if args.watch:
        threading.Thread(target=keep_watch, args=(services, settings.watch_seconds, threading.Event()), name="watcher", daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    worker.run()
    return 0


def keep_watch(services: Services, every: float, stopping: threading.Event, once: bool = False) -> bool:
    """Escalate each obligation as it falls overdue (once: the audit chain remembers), every
    `every` seconds until stopping. A failed pass is logged and tried again at the next: in a
    thread of the worker, an escaping error would end the watch and leave the worker running."""
    from gateway.obligations import escalate
    from gateway.store import utcnow

    while True:
        try:
            for obligation in escalate(services.store, services.deadlines, services.directory, utcnow(), services.acceptance):
                log.warning(
                    "obligation.escalated",
                    rule=obligation.rule,
                    opened_by=obligation.opened_by,
                    case_number=obligation.case_number,
                    due_on=str(obligation.due_on),
                )
        except Exception:
            log.exception("watcher.pass_failed")
            if once:
                return False
        if once or stopping.wait(every):
            return True


def cmd_watcher(settings: Settings, args: argparse.Namespace) -> int:
    """The watch in a process of its own; with --once, one pass (for cron, or to check a deployment's rules)."""
    from gateway.services import Services

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    return 0 if keep_watch(Services.build(settings), settings.watch_seconds, stopping, args.once) else 1


def cmd_directory_load(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.directory import load_directory
    from gateway.store import Store

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    entries = load_directory(Store(settings.db_url), Path(args.file))
    print(f"目录已载入：{len(entries.divisions)}个行政区划，{len(entries.units)}个单位")
    return 0


def cmd_key_issue(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.directory import issue_key
    from gateway.store import Store

    store = Store(settings.db_url)
    for code in args.units:
        print(f"{code}\t{issue_key(store, code)}")
    return 0


def cmd_broker(settings: Settings, args: argparse.Namespace) -> int:
    node = private_node(settings)
    if args.action == "start":
        ensure_rabbitmq_installed()
        node.start()
    elif args.action == "stop":
        node.stop()
    print(node.url)
    return 0


def cmd_audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    """Report the first entry whose content or position was changed, or an anchor that is gone."""
    from gateway.chain import verify_chain
    from gateway.store import Store

    verdict = verify_chain(Store(settings.db_url), args.anchor)
    print(verdict.problem or f"审计日志完整：{verdict.count}条，链尾哈希 {verdict.head}")
    return 0 if verdict.intact else 1


def cmd_dlq_list(settings: Settings, _args: argparse.Namespace) -> int:
    """One line per parked delivery; nothing leaves the dead queue."""
    from gateway.dlq import list_dead

    entries = list_dead(settings, broker_url(settings))
    for parked, info in entries:
        error = ((info.last_error if info else None) or "—").replace("\n", " ")[:200]
        kind, recipient = (info.kind, info.recipient) if info else ("?", parked.wire.get("recipient", "?"))
        print(f"{parked.delivery_id}\t{parked.routing_key}\t尝试{parked.attempts}次\t{kind}\t{recipient}\t{error}")
    print(f"死信队列共{len(entries)}条")
    return 0


def cmd_dlq_show(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.dlq import list_dead

    for parked, info in list_dead(settings, broker_url(settings)):
        if parked.delivery_id == args.delivery_id:
            print(f"投递 {parked.delivery_id}（路由键 {parked.routing_key}，已尝试{parked.attempts}次）")
            print(json.dumps(parked.wire, ensure_ascii=False, indent=2) if parked.wire else parked.body.decode(errors="replace"))
            print(f"最后错误：{(info.last_error if info else None) or '—'}")
            return 0
    print(f"死信队列中没有投递 {args.delivery_id}")
    return 1


def cmd_dlq_replay(settings: Settings, args: argparse.Namespace) -> int:
    """Republish to the delivery exchange with attempts reset; ack from the dead queue after the confirm."""
    from gateway.dlq import replay

    if not args.all and not args.delivery_ids:
        print("请指定投递编号，或用 --all 重放全部")
        return 2
    wanted = None if args.all else set(args.delivery_ids)
    replayed = replay(settings, broker_url(settings), wanted)
    for delivery_id in replayed:
        print(f"已重放：{delivery_id}")
    missing = sorted((wanted or set()) - set(replayed))
    for delivery_id in missing:
        print(f"死信队列中没有投递 {delivery_id}")
    print(f"共重放{len(replayed)}条")
    return 1 if missing else 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.demo import run_demo

    return run_demo(settings, keep_running=not args.once)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="xietong", description="协同：社区矫正跨部门协同网关")
    sub = top.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run every role (API, outbox relay, consumers, deadline watcher), each in its own process but the watcher, a thread of the worker")
    run.add_argument("--roles", default=",".join(ROLES))
    run.add_argument("--stop-broker", action="store_true", help="stop the private RabbitMQ node on exit")
    run.set_defaults(handler=cmd_run)
    sub.add_parser("api", help="the HTTP API alone").set_defaults(handler=cmd_api)
    sub.add_parser("relay", help="the outbox relay alone").set_defaults(handler=cmd_relay)
    worker = sub.add_parser("worker", help="consumers alone")
    worker.add_argument("--queues", help="comma-separated adapters (and 'push'); default all")
    worker.add_argument("--watch", action="store_true", help="keep the watcher's watch in a thread of this process")
    worker.set_defaults(handler=cmd_worker)
    watcher = sub.add_parser("watcher", help="escalate obligations as they fall overdue")
    watcher.add_argument("--once", action="store_true", help="one pass, then exit")
    watcher.set_defaults(handler=cmd_watcher)
    directory = sub.add_parser("directory", help="the directory of divisions and units")
    directory_sub = directory.add_subparsers(dest="action", required=True)
    load = directory_sub.add_parser("load")
    load.add_argument("file")
    load.set_defaults(handler=cmd_directory_load)
    key = sub.add_parser("key", help="API keys of units")
    key_sub = key.add_subparsers(dest="action", required=True)
    issue = key_sub.add_parser("issue", help="issue a new key (printed once, stored hashed)")
    issue.add_argument("units", nargs="+")
    issue.set_defaults(handler=cmd_key_issue)
    broker = sub.add_parser("broker", help="the private RabbitMQ node under the data folder")
    broker.add_argument("action", choices=["start", "stop", "url"])
    broker.set_defaults(handler=cmd_broker)
    audit = sub.add_parser("audit", help="the hash-chained audit log")
    audit_sub = audit.add_subparsers(dest="action", required=True)
    verify = audit_sub.add_parser("verify", help="walk the hash chain; keep the printed head hash elsewhere as an anchor")
    verify.add_argument("--anchor", action="append", default=[], help="a head hash kept earlier: it must still be in the chain")
    verify.set_defaults(handler=cmd_audit_verify)
    dlq = sub.add_parser("dlq", help="the dead-letter queue: deliveries that failed every attempt")
    dlq_sub = dlq.add_subparsers(dest="action", required=True)
    dlq_sub.add_parser("list", help="list parked deliveries (they stay parked)").set_defaults(handler=cmd_dlq_list)
    show = dlq_sub.add_parser("show", help="a parked delivery's wire message and last error")
    show.add_argument("delivery_id")
    show.set_defaults(handler=cmd_dlq_show)
    replay = dlq_sub.add_parser("replay", help="send parked deliveries again, attempts reset")
    replay.add_argument("delivery_ids", nargs="*")
    replay.add_argument("--all", action="store_true")
    replay.set_defaults(handler=cmd_dlq_replay)
    demo = sub.add_parser("demo", help="load the 惠民县 demo, submit samples, show every inbox")
    demo.add_argument("--once", action="store_true", help="exit after showing the inboxes")
    demo.set_defaults(handler=cmd_demo)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    return int(args.handler(settings, args) or 0)


if __name__ == "__main__":
    sys.exit(main())
