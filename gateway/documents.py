"""Content-addressed document folder: a file's name is its sha256, so it is stored once and
can never be altered unnoticed. Files are streamed (never held whole in memory)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024


class TooLarge(ValueError):
    pass


@dataclass(frozen=True)
class StagedFile:
    """An upload copied to the staging folder and hashed, not yet part of the store."""

    path: Path
    sha256: str
    size: int


class DocumentFolder:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.staging = root / ".staging"
        self.staging.mkdir(parents=True, exist_ok=True)

    def path_of(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def stage(self, source: BinaryIO, limit: int) -> StagedFile:
        """Copy `source` to staging while hashing it; refuse beyond `limit` bytes."""
        digest, size = hashlib.sha256(), 0
        fd, name = tempfile.mkstemp(dir=self.staging)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge(size)
                    digest.update(chunk)
                    out.write(chunk)
        except BaseException:
            os.unlink(name)
            raise
        return StagedFile(Path(name), digest.hexdigest(), size)

    def commit(self, staged: StagedFile) -> None:
        """Move a staged file to its content address, durably (fsync before it counts)."""
        target = self.path_of(staged.sha256)
        if target.exists():
            staged.path.unlink(missing_ok=True)
            return
        target.parent.mkdir(exist_ok=True)
        with open(staged.path, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(staged.path, target)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    @staticmethod
    def discard(staged: list[StagedFile]) -> None:
        for item in staged:
            item.path.unlink(missing_ok=True)
