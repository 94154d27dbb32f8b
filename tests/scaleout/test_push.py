"""Web Push across a lease move: the instance holding ``push.dispatch`` is killed (SIGKILL), a mention is
made on the survivor while the lease has not moved yet, and the survivor, once it holds the lease,
pushes it, once, without pushing again what the dead instance had pushed."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import psycopg
import pytest

from actors.push import CURSOR, SETTLE
from tests.scaleout.test_documents import holders
from tests.support.cluster import cluster, require_cluster_services
from tests.support.push_service import PushService, Subscriber
from tests.support.waiting import wait_for

require_cluster_services()

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def service() -> Iterator[PushService]:
    pushes = PushService()
    yield pushes
    pushes.close()


def cursor_at(database_url: str) -> str | None:
    """The id of the last notification the push job handled."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT after_id FROM job_cursor WHERE name = %s", (CURSOR,)).fetchone()
    return row and row[0]


def test_the_next_holder_pushes_what_was_mentioned_while_the_lease_moved(tmp_path: Path,
                                                                         service: PushService) -> None:
    with cluster(tmp_path, size=2, CONFAB_WEBHOOKS_ALLOWED_TARGETS="127.0.0.1/32") as c:
        holder = wait_for(lambda: holders(c, "push.dispatch"), timeout=15, interval=0.2)
        assert len(holder) == 1
        survivor = next(i for i in c.instances if i is not holder[0])
        reader = Subscriber(survivor, service, "/cluster/moved")
        reader.mention("before")
        wait_for(lambda: reader.pushed() == ["before"], timeout=10, interval=0.1)
        pushed_id = reader.notifications()[0]["id"]
        wait_for(lambda: cursor_at(c.database_url) == pushed_id, timeout=5, interval=0.1)
        holder[0].process.kill()
        reader.mention("during the move")
        wait_for(lambda: "during the move" in reader.pushed(), timeout=20, interval=0.1)
        time.sleep(SETTLE.total_seconds() + 1)  # runs enough to push anything twice, if it would
        assert reader.pushed() == ["before", "during the move"]
        assert holders(c, "push.dispatch") == [survivor]
