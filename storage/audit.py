"""What a look over the store finds: leftovers of crashed uploads, rows without bytes, bytes without rows."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class WorkFolderReport:
    """What a sweep of the blob store's work folder found (and, unless it only looked, removed)."""

    uncommitted: list[str] = field(default_factory=list)
    """Keys of uploads whose process died before their row was in: their bytes and marker."""
    committed_markers: int = 0
    """Markers of uploads whose row is in (the process died just before removing the marker)."""
    partial_files: int = 0
    """Temporary files of unfinished writes (and markers whose bytes never got their name)."""
    in_flight: int = 0
    """Files a live process holds: always left alone."""
    mismatched: list[str] = field(default_factory=list)
    """Markers whose final name holds other bytes than the marker: only the marker goes."""

    @property
    def leftovers(self) -> int:
        """Files found that no live upload needs."""
        return len(self.uncommitted) + self.committed_markers + self.partial_files + len(self.mismatched)


@dataclass
class SweepReport:
    """The start-up sweep: what it removed, and the bytes without a row it only reports."""

    work: WorkFolderReport
    unrecorded: list[str]
    """Keys of stored bytes without a catalog row and without a marker: kept, for `imagehost check`."""


@dataclass
class Audit:
    """Everything `imagehost check` looks at."""

    rows: int
    files: int
    rows_without_bytes: list[str]
    """Ids of catalog rows whose bytes are gone."""
    bytes_without_rows: list[str]
    """Keys of stored bytes that no row names (uploads in flight excluded): images, thumbnails, originals."""
    missing_renditions: list[str]
    """Keys of thumbnails and originals a row names whose bytes are gone (the image's own are there)."""
    work: WorkFolderReport

    @property
    def clean(self) -> bool:
        return not (self.rows_without_bytes or self.bytes_without_rows or self.missing_renditions or self.work.leftovers)
