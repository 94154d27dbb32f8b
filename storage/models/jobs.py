"""What singleton jobs record so that the next holder of their lease resumes where the last one stopped."""
from __future__ import annotations

import peewee

from storage.models.base import BaseModel


class JobCursor(BaseModel):
    """How far a job that walks rows in (created_at, id) order got: everything up to (``at``,
    ``after_id``) is done. ``version`` grows with each move, which is a compare-and-set on it."""
    name = peewee.CharField(max_length=64, primary_key=True)
    at = peewee.DateTimeField()
    after_id = peewee.CharField(max_length=36, default="")
    version = peewee.IntegerField(default=0)
