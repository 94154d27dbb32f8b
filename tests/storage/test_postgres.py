"""The same models on the real local PostgreSQL, through psycopg 3, cooperating with gevent."""
import time
import uuid

import gevent
import psycopg
import pytest
import requests

from domain.config import build_config
from storage import migrations
from storage.db import open_database, reading
from tests.support import services
from tests.support.harness import ROOT, bearer, register, running_server
from tests.support.yjs_client import wait_until

ADMIN_URL = services.POSTGRES_URL

services.require_postgres()


@pytest.fixture(scope="module")
def pg_url():
    name = "confab_" + uuid.uuid4().hex[:10]
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_twenty_concurrent_pg_sleeps_overlap(pg_url, tmp_path):
    db = open_database(build_config({"server": {"data_dir": str(tmp_path)},
                                     "database": {"url": pg_url, "pool_size": "25"}}))

    def sleeper() -> None:
        with reading() as conn:
            conn.execute_sql("SELECT pg_sleep(0.3)")

    started = time.monotonic()
    gevent.joinall([gevent.spawn(sleeper) for _ in range(20)], raise_error=True)
    elapsed = time.monotonic() - started
    db.close_all()
    assert elapsed < 2.0, f"20 x pg_sleep(0.3) took {elapsed:.2f}s: the driver is blocking the hub"


def test_migrations_and_accounts_run_on_postgres(pg_url, tmp_path):
    with running_server(tmp_path, database={"url": pg_url}) as server:
        storage = wait_until(lambda: requests.get(f"{server.base}/health").json()["components"]["storage"].get("engine"),
                             message="the storage component's first health report")  # pushed after its first check
        assert storage == "postgresql"
        body = register(server.base)
        me = requests.get(f"{server.base}/api/v1/auth/me", headers=bearer(body["access_token"]))
        assert me.json()["username"] == body["user"]["username"]
        again = requests.post(f"{server.base}/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
        assert again.status_code == 200
    db = open_database(build_config({"database": {"url": pg_url}}))
    assert migrations.migrate(db) == migrations.MIGRATIONS[-1].version  # idempotent on a second start
    db.close_all()


def test_instances_migrating_the_same_database_at_once_take_turns(tmp_path):
    """Two processes start against one fresh database together: both succeed, each migration runs once."""
    import subprocess
    import sys

    name = "confab_" + uuid.uuid4().hex[:10]
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    script = ("from gevent import monkey; monkey.patch_all()\n"
              "import sys; sys.path.insert(0, '.')\n"
              "from domain.config import build_config\n"
              "from storage import migrations\n"
              "from storage.db import open_database\n"
              f"db = open_database(build_config({{'database': {{'url': '{url}'}}}}))\n"
              "print(migrations.migrate(db))\n")
    try:
        runs = [subprocess.Popen([sys.executable, "-c", script], cwd=str(ROOT), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(3)]
        results = [run.communicate(timeout=60) for run in runs]
        assert [run.returncode for run in runs] == [0, 0, 0], [err[-500:] for _, err in results]
        assert {out.strip() for out, _ in results} == {str(migrations.MIGRATIONS[-1].version)}
        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
        assert [r[0] for r in rows] == [m.version for m in migrations.MIGRATIONS]
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
