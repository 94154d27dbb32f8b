"""Many writers at once on the embedded SQLite: every one of them succeeds (no "database is locked")."""
import gevent
import requests

from tests.support.harness import running_server


def test_sixty_concurrent_registrations_all_succeed(tmp_path):
    with running_server(tmp_path) as server:
        def register(i: int) -> int:
            return requests.post(f"{server.base}/api/v1/auth/register",
                                 json={"username": f"user{i}", "email": f"u{i}@example.com",
                                       "password": "correct horse"}).status_code

        jobs = [gevent.spawn(register, i) for i in range(60)]
        gevent.joinall(jobs, raise_error=True)
        assert [job.value for job in jobs] == [201] * 60
        found = requests.post(f"{server.base}/api/v1/auth/login", json={"username": "user59", "password": "correct horse"})
        assert found.status_code == 200
