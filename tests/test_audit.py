"""`xietong audit verify` finds an altered, a removed and a reordered entry of the hash chain, and
entries cut off its end when given an anchor kept from an earlier run."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from gateway.store import Audit, Store

ENTRIES = 12


def build_chain(data_dir: Path) -> Path:
    """A real store with a dozen entries, each appended in its own write transaction."""
    store = Store(f"sqlite:///{data_dir / 'xietong.db'}")
    for n in range(1, ENTRIES + 1):
        with store.write() as session:
            Audit(session).append("tester", "test.event", f"subject-{n}", n=n, note="第{n}条")
    store.engine.dispose()
    return data_dir / "xietong.db"


def verify(data_dir: Path, *options: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XIETONG_DATA_DIR": str(data_dir), "XIETONG_LOG_FORMAT": "json"}
    command = [sys.executable, "-m", "gateway.cli", "audit", "verify", *options]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def tamper(db: Path, *statements: tuple[str, tuple[object, ...]]) -> None:
    with sqlite3.connect(db) as connection:
        for sql, params in statements:
            connection.execute(sql, params)


def test_an_intact_chain_verifies(tmp_path: Path) -> None:
    build_chain(tmp_path)
    result = verify(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"审计日志完整：{ENTRIES}条" in result.stdout


def test_an_altered_entry_is_named(tmp_path: Path) -> None:
    db = build_chain(tmp_path)
    tamper(db, ("UPDATE audit_log SET details = ? WHERE id = 5", ('{"n": 500}',)))
    result = verify(tmp_path)
    assert result.returncode == 1
    assert "第5条" in result.stdout
    assert "篡改" in result.stdout


def test_a_removed_entry_is_named(tmp_path: Path) -> None:
    db = build_chain(tmp_path)
    tamper(db, ("DELETE FROM audit_log WHERE id = 7", ()))
    result = verify(tmp_path)
    assert result.returncode == 1
    assert "第7条缺失" in result.stdout


def test_a_reordered_pair_is_named(tmp_path: Path) -> None:
    """Swap everything but the ids of entries 3 and 4, hashes included."""
    db = build_chain(tmp_path)
    columns = "at, actor, event, subject, details, prev_hash, hash"
    with sqlite3.connect(db) as connection:
        rows = {row[0]: row[1:] for row in connection.execute(f"SELECT id, {columns} FROM audit_log WHERE id IN (3, 4)")}
        assignments = ", ".join(f"{c.strip()} = ?" for c in columns.split(","))
        connection.execute(f"UPDATE audit_log SET {assignments} WHERE id = 3", rows[4])
        connection.execute(f"UPDATE audit_log SET {assignments} WHERE id = 4", rows[3])
    result = verify(tmp_path)
    assert result.returncode == 1
    assert "第3条" in result.stdout
    assert "第4条" not in result.stdout


def test_entries_cut_off_the_end_are_found_by_a_kept_anchor(tmp_path: Path) -> None:
    """A shorter chain is still whole; the head hash printed earlier and kept elsewhere shows the cut."""
    db = build_chain(tmp_path)
    anchor = verify(tmp_path).stdout.rsplit("链尾哈希 ", 1)[1].strip()
    assert verify(tmp_path, "--anchor", anchor).returncode == 0
    tamper(db, ("DELETE FROM audit_log WHERE id > 9", ()))
    assert verify(tmp_path).returncode == 0  # without the anchor, nothing tells
    result = verify(tmp_path, "--anchor", anchor)
    assert result.returncode == 1
    assert f"审计日志被截断：锚定的链上哈希 {anchor} 已不在链中（现存9条）" in result.stdout
