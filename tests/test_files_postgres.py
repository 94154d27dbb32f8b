"""Files on PostgreSQL: the share rows (ON CONFLICT DO NOTHING) and the readability subqueries run on
the other engine too. The same tests as on SQLite, on a fresh database."""
import pytest

from tests.support.harness import running_server
from tests.files.test_files import LIMIT
from tests.files.test_files import (  # noqa: F401 — collected here with this module's ``server``
    test_duplicate_upload_is_stored_once, test_upload_attach_member_downloads_stranger_gets_not_found)
from tests.storage.test_postgres import pg_url  # noqa: F401 — a fresh database; skips this module when PostgreSQL is absent


@pytest.fixture(scope="module")
def server(pg_url, tmp_path_factory):  # noqa: F811
    with running_server(tmp_path_factory.mktemp("files-pg"), database={"url": pg_url},
                        files={"max_upload_bytes": str(LIMIT)}, chat={"send_rate": "100"}) as running:
        yield running
