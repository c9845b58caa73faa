"""The supervisor of `xietong run`: one process per role, each started again should it die.

It lives as long as the gateway and does nothing but watch its children, so `xietong run`
prepares the roles' commands (and starts the private broker), then becomes this module (exec),
which imports the logger and nothing else of the gateway. The supervisor held 43 MB (settings,
pika and the rest) for as long as the gateway ran, and the gateway's RSS under load was a few MB
over its 400 MB target.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import structlog

from gateway.logs import configure_logging

log = structlog.get_logger(__name__)


def supervise(commands: dict[str, list[str]], on_exit: list[str] | None) -> int:
    """Run each command, start it again when it ends, until SIGTERM or SIGINT; then stop them
    all, and run `on_exit` (stopping the private broker)."""
    children: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while not stopping:
            for role, command in commands.items():
                child = children.get(role)
                if child is None or child.poll() is not None:
                    if child is not None:
                        log.warning("supervisor.role_exited", role=role, returncode=child.returncode)
                    children[role] = subprocess.Popen(command)
                    log.info("supervisor.role_started", role=role, pid=children[role].pid)
            time.sleep(0.2)
    finally:
        for child in children.values():
            child.terminate()
        for child in children.values():
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
        if on_exit:
            subprocess.run(on_exit, check=False)
    return 0


def main(spec: str) -> int:
    """`spec`: JSON with the commands by role, the command to run on exit, and the log format and level."""
    plan = json.loads(spec)
    configure_logging(plan["log_format"], plan["log_level"])
    return supervise(plan["commands"], plan["on_exit"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
