"""Cursors of singleton jobs that walk rows in (created_at, id) order (``models.JobCursor``): stored,
so a restarted process or the next holder of the job's lease resumes where the last run stopped.

Moving a cursor is a compare-and-set on its version: a holder that lost its lease while running (its
run outlived the lease) finds the cursor moved by the new holder and stops, instead of walking the same
rows again behind it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.db import reading, unit_of_work
from storage.models import JobCursor


@dataclass(frozen=True)
class Cursor:
    """Everything up to (``at``, ``after_id``) in (created_at, id) order is done."""
    at: datetime
    after_id: str
    version: int


def _cursor(row: JobCursor) -> Cursor:
    return Cursor(row.at, row.after_id, row.version)


def load(name: str, start: datetime) -> Cursor:
    """The job's cursor; one the job never had is created at ``start`` (so a new job does not walk
    through the past)."""
    with reading():
        row = JobCursor.get_or_none(JobCursor.name == name)
    if row is None:
        with unit_of_work():
            JobCursor.insert(name=name, at=start).on_conflict_ignore().execute()
            row = JobCursor.get_by_id(name)
    return _cursor(row)


def move(name: str, cursor: Cursor, at: datetime, after_id: str = "") -> Cursor | None:
    """Move the job's cursor from ``cursor`` to (``at``, ``after_id``); None when someone else moved it
    since ``cursor`` was read (then nothing changes)."""
    with unit_of_work():
        moved = (JobCursor.update(at=at, after_id=after_id, version=cursor.version + 1)
                 .where((JobCursor.name == name) & (JobCursor.version == cursor.version)).execute())
    return Cursor(at, after_id, cursor.version + 1) if moved else None
