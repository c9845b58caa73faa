"""Golden files: what each XML adapter writes for every one of its samples, byte for byte.

For each sample of the court, procuratorate and police adapters the sample is parsed into its
canonical draft, stamped as the gateway would (fixed time, fixed message id, see `message_of`)
and rendered back to that agency's XML; the bytes must equal
`tests/adapters/golden/<adapter>/<sample name>` exactly. The comparison is byte for byte, not
after C14N: `render` always writes UTF-8 with the same declaration, indentation and attribute
order, so any byte that moves is a change an agency's parser would see (a GB18030 or GBK sample
has a UTF-8 golden file under the sample's own name, since the gateway always answers in UTF-8).

The golden files are reviewed like code. After an intended change to a mapping, a code table or
a sample, regenerate them and read the diff before committing:

    XIETONG_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest -q -p no:cacheprovider tests/adapters/test_golden.py
    git diff tests/adapters/golden/

Regeneration rewrites every golden file and deletes those whose sample is gone; without it a
missing, stale or different golden file fails the test.

The canonical (justice bureau) samples have no rendering of their own: there the round trip is
that parsing a sample and dumping the draft gives back the sample's JSON, field for field.
"""

from __future__ import annotations

import difflib
import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.base import Adapter
from adapters.canonical import ADAPTER as CANONICAL
from adapters.court import ADAPTER as COURT
from adapters.police import ADAPTER as POLICE
from adapters.procuratorate import ADAPTER as PROCURATORATE
from tests.adapters.stamping import ADAPTERS_DIR, samples, stamp
from tests.adapters.test_xmlcodec import assert_valid

ADAPTERS: dict[str, Adapter] = {adapter.name: adapter for adapter in (COURT, PROCURATORATE, POLICE)}
GOLDEN = Path(__file__).resolve().parent / "golden"
REGENERATE = os.environ.get("XIETONG_REGENERATE_GOLDEN") == "1"
STAMPED_AT = datetime(2025, 9, 1, 8, 30, tzinfo=UTC)  # 2025-09-01 16:30 Beijing time
SAMPLES = [pytest.param(name, path, id=f"{name}/{path.name}") for name in ADAPTERS for path in samples(name)]
CANONICAL_SAMPLES = sorted((ADAPTERS_DIR / "canonical" / "samples").glob("*.json"))


def message_of(adapter: Adapter, sample: Path) -> dict[str, Any]:
    """The sample as the gateway would stamp it, with nothing left to chance: the time is fixed and
    the message id is a UUIDv7 at that time whose random bits come from the sample's name."""
    seed = uuid.uuid5(uuid.NAMESPACE_URL, f"xietong-golden:{adapter.name}/{sample.name}").int
    milliseconds = int(STAMPED_AT.timestamp() * 1000)
    value = milliseconds << 80 | 0x7 << 76 | (seed >> 64 & 0xFFF) << 64 | 0x2 << 62 | seed & ((1 << 62) - 1)
    return stamp(adapter.parse(sample.read_bytes()), now=STAMPED_AT, message_id=uuid.UUID(int=value))


def diff(expected: bytes, actual: bytes, name: str) -> str:
    lines = difflib.unified_diff(
        expected.decode("utf-8", "replace").splitlines(), actual.decode("utf-8", "replace").splitlines(),
        f"golden/{name}", "rendered", lineterm="", n=1,
    )  # fmt: skip
    return "\n".join(lines)


@pytest.mark.parametrize(("name", "sample"), SAMPLES)
def test_rendering_equals_the_golden_file(name: str, sample: Path) -> None:
    """A recipient's parser sees exactly these bytes: a mapping change must show up as a diff."""
    adapter = ADAPTERS[name]
    rendered = adapter.render(message_of(adapter, sample))
    golden = GOLDEN / name / sample.name
    if REGENERATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(rendered)
    assert golden.exists(), f"no golden file {golden}: run with XIETONG_REGENERATE_GOLDEN=1 and review it"
    expected = golden.read_bytes()
    assert rendered == expected, diff(expected, rendered, f"{name}/{sample.name}")


@pytest.mark.parametrize(("name", "sample"), SAMPLES)
def test_the_golden_file_says_what_the_sample_says(name: str, sample: Path) -> None:
    """A golden file is not just a snapshot: it is valid against the agency's XSD and reads back
    as the sample's case, reply target, payload and attachments (so regenerating cannot bless a
    rendering that lost a field)."""
    adapter = ADAPTERS[name]
    golden = GOLDEN / name / sample.name
    if not golden.exists():
        pytest.fail(f"no golden file {golden}")
    data = golden.read_bytes()
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    assert_valid(data, name)
    draft, back = adapter.parse(sample.read_bytes()), adapter.parse(data)
    assert (back.kind, back.case, back.in_reply_to) == (draft.kind, draft.case, draft.in_reply_to)
    assert back.payload == draft.payload
    assert [(c.filename, c.title, c.document_kind) for c in back.attachments] == [
        (c.filename, c.title, c.document_kind) for c in draft.attachments
    ]


def test_every_golden_file_has_its_sample() -> None:
    """A sample renamed or removed must not leave a golden file nobody checks."""
    expected = {(name, path.name) for name in ADAPTERS for path in samples(name)}
    found = {(path.parent.name, path.name) for path in GOLDEN.glob("*/*")}
    if REGENERATE:
        for name, filename in found - expected:
            (GOLDEN / name / filename).unlink()
        found &= expected
    assert found == expected


@pytest.mark.parametrize("sample", CANONICAL_SAMPLES, ids=[path.name for path in CANONICAL_SAMPLES])
def test_canonical_sample_round_trips(sample: Path) -> None:
    """The bureau's JSON is the contract itself: parsing loses, adds or rewrites nothing (fields
    left out of the sample stay out, an absent attachment list is an empty one)."""
    document = json.loads(sample.read_bytes())
    draft = CANONICAL.parse(sample.read_bytes())
    assert draft.payload.model_dump(mode="json", exclude_none=True) == document["payload"]
    assert draft.model_dump(mode="json", exclude_none=True) == {"attachments": [], **document}
