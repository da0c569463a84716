"""Writing the articles table's folder (its layout is in ``toolkit.articles``) and keeping each
part's near-duplicate index (``dedup.PartIndex``) beside it.

An ingest appends: new rows go into new parts (``PartWriter``; a new part every
``part_rows`` rows), the two small side tables (clusters, sources found later) are written
anew under the next generation's names, and the manifest naming them all is replaced last
(``commit``). Until then the table readers see is the previous one, and what a stopped run
wrote is listed nowhere and removed by the next ingest (``remove_leftovers``), as are the side
tables of the generation before (kept until then for readers that opened its manifest).

Each part's index lives in ``annotations/ingest-state/index/`` (a cache, like the rest of the
state): it names the part's SHA-256 and the near-duplicate settings it was made with, and one
that is missing or stale (a fresh clone, changed settings) is rebuilt from the part's texts
(``ensure_indexes``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import atomicio, parquetio
from ..articles import (ARTICLE_SCHEMA, CLUSTERS_SCHEMA, EXTRA_SOURCES_SCHEMA, FileRef, Manifest, legacy_path,
                        manifest_path, open_part, part_name, read_manifest, recovery_hint)
from ..errors import OutputError
from ..progress import Progress
from ..workspace import Workspace
from . import dedup

__all__ = ["PART_ROWS", "Settings", "PartWriter", "prepare", "remove_leftovers", "ensure_indexes", "commit",
           "index_folder", "read_side", "stored_cluster_ids", "write_table"]

PART_ROWS = 1_000_000  # rows per part at most: a part's index is sorted in memory when it is made
_OURS = re.compile(r"(part-\d{6}\.parquet|_clusters-\d{6}\.parquet|_sources-\d{6}\.parquet|"
                   r"\.[^/]+\.tmp)")


@dataclass(frozen=True)
class Settings:
    """What a part's index depends on."""

    num_perm: int
    shingle_size: int
    bands: dedup.Bands
    signature_scheme: str

    def describes(self, part: FileRef) -> dict[str, Any]:
        return {"part": part.file, "sha256": part.sha256, "rows": part.rows, "clustering": self.clustering}

    @property
    def clustering(self) -> dict[str, Any]:
        return {"threshold": self.bands.threshold, "num_perm": self.num_perm, "shingle_size": self.shingle_size,
                "bands": [self.bands.b, self.bands.r], "signature": self.signature_scheme}


def index_folder(ws: Workspace) -> Path:
    return ws.annotations_dir / "ingest-state" / "index"


def _part_index(ws: Workspace, part: FileRef, settings: Settings) -> dedup.PartIndex:
    return dedup.PartIndex(index_folder(ws), Path(part.file).stem, settings.num_perm)


def prepare(ws: Workspace) -> Manifest:
    """The table's manifest, after moving an old single-file table into the folder as its
    first part (that table's cluster ids are then worked out again, with this toolkit's
    settings: its manifest names no clustering)."""
    manifest = read_manifest(ws)
    if manifest is not None:
        return manifest
    legacy = legacy_path(ws)
    if not legacy.is_file():
        return Manifest()
    folder = ws.articles_path
    folder.mkdir(parents=True, exist_ok=True)
    rows = parquetio.open_parquet(legacy, hint=recovery_hint(ws)).metadata.num_rows
    first = FileRef(part_name(0), rows, atomicio.sha256_file(legacy))
    legacy.replace(folder / first.file)
    manifest = Manifest((first,), generation=1)
    _write_manifest(ws, manifest)
    return manifest


def remove_leftovers(ws: Workspace, manifest: Manifest) -> list[str]:
    """Files of the folder a stopped ingest wrote that the manifest does not list (only names
    ingest itself makes; we hold the lock, so none is in use)."""
    folder = ws.articles_path
    listed = set(manifest.files())
    removed = []
    for entry in sorted(folder.iterdir()) if folder.is_dir() else ():
        if _OURS.fullmatch(entry.name) and entry.name not in listed and entry.is_file() and not entry.is_symlink():
            entry.unlink()
            removed.append(ws.relative(entry))
    return removed


def ensure_indexes(ws: Workspace, manifest: Manifest, settings: Settings, batch_size: int,
                   progress: Progress) -> list[dedup.PartIndex]:
    """The index of every part, rebuilt from its texts where missing or stale. Every part is
    opened first (its footer and columns checked): a damaged table stops the run before
    anything is written."""
    for part in manifest.parts:
        open_part(ws, ws.articles_path / part.file)
    indexes = []
    for part in manifest.parts:
        index = _part_index(ws, part, settings)
        if not index.valid_for(settings.describes(part)):
            _rebuild(ws, part, index, settings, batch_size, progress)
        indexes.append(index)
    return indexes


def _rebuild(ws: Workspace, part: FileRef, index: dedup.PartIndex, settings: Settings, batch_size: int,
             progress: Progress) -> None:
    writer = dedup.PartIndexWriter(index)
    progress.start(part.rows, f"index {part.file}")
    try:
        for batch in parquetio.iter_batches(ws.articles_path / part.file, batch_size,
                                            ["article_id", "text", "sources"], hint=recovery_hint(ws)):
            for aid, text, sources in zip(batch.column("article_id").to_pylist(), batch.column("text").to_pylist(),
                                          batch.column("sources").to_pylist()):
                writer.add(dedup.id_number(aid), dedup.signature(text, settings.num_perm, settings.shingle_size),
                           [dedup.source_key(aid, s["file"], s["sha256"]) for s in sources])
                progress.advance()
        writer.finish(settings.bands, settings.describes(part))
    except BaseException:
        writer.abort()
        raise
    progress.finish()


class PartWriter:
    """New rows appended as new parts, each with its index; ``finish`` returns what was written."""

    def __init__(self, ws: Workspace, first_number: int, settings: Settings, batch_size: int,
                 part_rows: int = PART_ROWS) -> None:
        self.ws, self.settings, self.batch_size, self.part_rows = ws, settings, batch_size, part_rows
        self.number = first_number
        self.parts: list[FileRef] = []
        self.indexes: list[dedup.PartIndex] = []
        self.rows_written = 0
        self._writer: pq.ParquetWriter | None = None
        self._rows: list[dict[str, Any]] = []
        self._in_part = 0
        self._index: dedup.PartIndexWriter | None = None

    def add(self, row: dict[str, Any], aid_number: int, signature: bytes, source_key: int) -> None:
        if self._writer is None:
            self._open()
        self._rows.append(row)
        self._index.add(aid_number, signature, (source_key,))  # type: ignore[union-attr]
        self.rows_written += 1
        self._in_part += 1
        if len(self._rows) >= self.batch_size:
            self._flush()
        if self._in_part >= self.part_rows:
            self._close()

    def _open(self) -> None:
        path = self.ws.articles_path / part_name(self.number)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(path, ARTICLE_SCHEMA)
        self._index = dedup.PartIndexWriter(dedup.PartIndex(index_folder(self.ws), path.stem, self.settings.num_perm))
        self._in_part = 0

    def _flush(self) -> None:
        if self._rows:
            self._writer.write_table(pa.Table.from_pylist(self._rows, schema=ARTICLE_SCHEMA),  # type: ignore[union-attr]
                                     row_group_size=self.batch_size)
            self._rows = []

    def _close(self) -> None:
        self._flush()
        self._writer.close()  # type: ignore[union-attr]
        self._writer = None
        path = self.ws.articles_path / part_name(self.number)
        ref = FileRef(path.name, self._in_part, atomicio.sha256_file(path))
        self.parts.append(ref)
        self.indexes.append(self._index.finish(self.settings.bands, self.settings.describes(ref)))  # type: ignore[union-attr]
        self._index = None
        self.number += 1

    def finish(self) -> None:
        if self._writer is not None:
            self._close()

    def abort(self) -> None:
        """Forget what was written (a run that fails): its files are removed."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            if self._index is not None:
                self._index.abort()
        for ref, index in zip(self.parts, self.indexes):
            index.remove()
            (self.ws.articles_path / ref.file).unlink(missing_ok=True)
        (self.ws.articles_path / part_name(self.number)).unlink(missing_ok=True)


def _write_side(path: Path, schema: pa.Schema, rows: list[dict[str, Any]]) -> FileRef:
    with atomicio.atomic_path(path) as tmp:
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp, row_group_size=100_000)
    return FileRef(path.name, len(rows), atomicio.sha256_file(path))


def commit(ws: Workspace, previous: Manifest, new_parts: Iterable[FileRef], clusters: list[dict[str, Any]],
           extra_sources: list[dict[str, Any]], clustering: dict[str, Any]) -> Manifest:
    """Write the side tables of the next generation and the manifest naming them with every part
    (the commit point)."""
    generation = previous.generation + 1
    folder = ws.articles_path
    written = [folder / f"_clusters-{generation:06d}.parquet", folder / f"_sources-{generation:06d}.parquet"]
    try:
        clusters_ref = _write_side(folder / f"_clusters-{generation:06d}.parquet", CLUSTERS_SCHEMA,
                                   clusters) if clusters else None
        sources_ref = _write_side(folder / f"_sources-{generation:06d}.parquet", EXTRA_SOURCES_SCHEMA,
                                  extra_sources) if extra_sources else None
        manifest = Manifest((*previous.parts, *new_parts), clusters_ref, sources_ref, generation, clustering)
        _write_manifest(ws, manifest)
    except BaseException as exc:
        for path in written:
            path.unlink(missing_ok=True)
        if not isinstance(exc, OSError):
            raise
        raise OutputError(f"cannot write {ws.relative(folder)}/: {exc}",
                          hint="check free disk space and permissions; the table was left as it was") from exc
    # The previous generation's side tables stay until the next ingest (``remove_leftovers``):
    # a command that read the previous manifest a moment ago can still open them.
    return manifest


def _write_manifest(ws: Workspace, manifest: Manifest) -> None:
    with atomicio.atomic_open(manifest_path(ws), "wb") as out:
        out.write(manifest.to_bytes())


def read_side(ws: Workspace, ref: FileRef | None, columns: list[str]) -> list[dict[str, Any]]:
    """A side table's rows (small: only the articles it concerns)."""
    if ref is None:
        return []
    return parquetio.read_table(ws.articles_path / ref.file, columns, hint=recovery_hint(ws)).to_pylist()


def stored_cluster_ids(ws: Workspace, manifest: Manifest, batch_size: int) -> Iterable[tuple[int, int, str, str]]:
    """(part, row, article id, cluster id as written in the part) for rows written with another
    article's id as their cluster (only a table moved from the old layout has such rows)."""
    for number, part in enumerate(manifest.parts):
        offset = 0
        for batch in parquetio.iter_batches(ws.articles_path / part.file, batch_size, ["article_id", "cluster_id"],
                                            hint=recovery_hint(ws)):
            ids, clusters = batch.column("article_id"), batch.column("cluster_id")
            differ = np.flatnonzero(np.asarray(pc.not_equal(ids, clusters).to_numpy(zero_copy_only=False)))
            for i in differ.tolist():
                yield number, offset + i, ids[i].as_py(), clusters[i].as_py()
            offset += batch.num_rows


def write_table(ws: Workspace, table: pa.Table | Path) -> Manifest:
    """Make ``table`` (a table, or a Parquet file of the articles' columns, moved in) the
    workspace's whole articles table, one part; any table there before is replaced. For tools
    and tests that build a table themselves; ingest appends instead."""
    folder = ws.articles_path
    folder.mkdir(parents=True, exist_ok=True)
    previous = read_manifest(ws) or Manifest()
    path = folder / part_name(len(previous.parts))
    if isinstance(table, pa.Table):
        with atomicio.atomic_path(path) as tmp:
            pq.write_table(table.cast(ARTICLE_SCHEMA), tmp)
    else:
        Path(table).replace(path)
    rows = open_part(ws, path).metadata.num_rows
    manifest = Manifest((FileRef(path.name, rows, atomicio.sha256_file(path)),), generation=previous.generation + 1)
    _write_manifest(ws, manifest)
    for name in previous.files():
        if name != path.name:
            (folder / name).unlink(missing_ok=True)
    legacy_path(ws).unlink(missing_ok=True)
    return manifest
