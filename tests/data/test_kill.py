"""SIGKILL in the middle of an ingest leaves no partial version, and the next ingest completes cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ctml.bench.ingest import generate_csv
from ctml.data import Datasets, FileSource, digest_table
from ctml.meta import open_meta
from ctml.store import open_store

CHILD = """
import sys
from ctml.data import Datasets, FileSource
from ctml.meta import open_meta
from ctml.store import open_store
root, csv = sys.argv[1], sys.argv[2]
datasets = Datasets(open_meta(f"sqlite:///{root}/meta.db"), open_store(f"{root}/artifacts"))
datasets.ingest("big", FileSource(csv), progress=lambda chunk, rows: print(rows, flush=True))
print("finished", flush=True)
"""


def _objects(root: Path) -> list[Path]:
    return [p for p in (root / "artifacts").rglob("*") if p.is_file() and len(p.name) == 64]


def test_sigkill_mid_ingest_leaves_nothing_and_the_next_ingest_completes(tmp_path: Path) -> None:
    csv = tmp_path / "big.csv"
    rows = generate_csv(csv, 40)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path), str(csv)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout is not None
    written = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        assert line, "the ingest process ended before it could be killed"
        assert line != "finished\n", "the ingest ended before it could be killed; make the file larger"
        written = int(line)
        if written >= rows // 4:  # a quarter of the file is in the temporary Parquet file
            break
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert 0 < written < rows

    meta = open_meta(f"sqlite:///{tmp_path}/meta.db")
    try:
        datasets = Datasets(meta, open_store(str(tmp_path / "artifacts")))
        assert datasets.versions("big") == []
        assert _objects(tmp_path) == []
        source = FileSource(csv)
        assert meta.watermarks.get(f"big|{source.name}") == {}

        result = datasets.ingest("big", source)
        assert result.ok
        assert len(result.new_versions) == 1
        version = result.new_versions[0]
        assert version.rows == rows
        assert digest_table(datasets.read(version)) == version.digest
        assert datasets.ingest("big", source).outcomes == ()
        assert [v.id for v in datasets.versions("big")] == [version.id]
    finally:
        meta.close()


def test_a_crash_between_the_version_and_its_watermark_is_harmless(tmp_path: Path) -> None:
    from .conftest import head, write_csv

    path = write_csv(head("elec2", 1000), tmp_path / "day1.csv")
    meta = open_meta(f"sqlite:///{tmp_path}/meta.db")
    try:
        datasets = Datasets(meta, open_store(str(tmp_path / "artifacts")))
        source = FileSource(path)
        version = datasets.ingest("elec", source).new_versions[0]
        assert meta.watermarks.reset(f"elec|{source.name}") == 1  # as if killed before the mark was written
        again = datasets.ingest("elec", source)
        assert [(o.version.id if o.version else None, o.is_new) for o in again.outcomes] == [(version.id, False)]
        assert meta.watermarks.get(f"elec|{source.name}")[str(path)].dataset_version_id == version.id
        assert [v.id for v in datasets.versions("elec")] == [version.id]
    finally:
        meta.close()
