"""Do the account routes tell who has an account by how long they take? A password-reset request for an
address that has an account against one that has none, and a failed sign-in with a known username (wrong
password) against an unknown one, interleaved side by side in one run against one ``python app.py`` with
its real Argon2id settings and the rate limits off (so every request does the full work). Every loop is
bounded in count. Run on demand (not a test):

    .venv/bin/python bench/accounts.py [--rounds N]

It prints a markdown table and writes it to bench/results/accounts.md (keeping its hand-written findings).
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.reporting import write_keeping_findings  # noqa: E402
from domain.config import AuthConfig  # noqa: E402
from tests.support.harness import ServerProcess, register  # noqa: E402

PASSWORD = "correct horse battery"
GAP_S = 0.05


def timed(call: Callable[[], requests.Response], expected: int) -> float:
    """One request's time; then a pause, so work it left for after its answer is not timed in the next."""
    started = time.perf_counter()
    response = call()
    took = (time.perf_counter() - started) * 1000
    assert response.status_code == expected, response.text
    time.sleep(GAP_S)
    return took


def row(name: str, a: list[float], b: list[float]) -> str:
    def p(values: list[float], q: float) -> float:
        return sorted(values)[min(len(values) - 1, int(q * len(values)))]
    return (f"| {name} | {statistics.median(a):.2f} | {statistics.median(b):.2f} | "
            f"{statistics.median(a) / statistics.median(b):.2f} | {p(a, .9):.2f} | {p(b, .9):.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    auth = AuthConfig()
    server = ServerProcess(Path(tempfile.mkdtemp(prefix="confab-bench-accounts-")), env={
        "CONFAB_RATE_LIMIT_ENABLED": "false", "CONFAB_AUTH_ARGON2_TIME_COST": str(auth.argon2_time_cost),
        "CONFAB_AUTH_ARGON2_MEMORY_KIB": str(auth.argon2_memory_kib)})
    session, api = requests.Session(), f"{server.base}/api/v1/auth"
    results: dict[str, list[float]] = {k: [] for k in ("reset+", "reset-", "login+", "login-")}
    try:
        server.wait_ready()
        names = [register(server.base, f"probe{i}", password=PASSWORD)["user"]["username"] for i in range(3)]
        for i in range(args.rounds):  # interleaved, so load on this shared machine falls on both sides alike
            known, unknown = names[i % len(names)], f"nobody{i}"
            results["reset+"].append(timed(lambda: session.post(f"{api}/password-reset", json={"email": f"{known}@example.com"}), 202))
            results["reset-"].append(timed(lambda: session.post(f"{api}/password-reset", json={"email": f"{unknown}@example.com"}), 202))
            results["login+"].append(timed(lambda: session.post(f"{api}/login", json={"username": known, "password": "wrong guess"}), 401))
            results["login-"].append(timed(lambda: session.post(f"{api}/login", json={"username": unknown, "password": "wrong guess"}), 401))
    finally:
        server.stop()
    tables = "\n".join([
        "# Account routes: does the time tell whether an account exists?",
        "",
        f"{args.rounds} rounds, each: a reset request for an address with an account and one without, a failed "
        f"sign-in with a known username (wrong password) and with an unknown one, {GAP_S * 1000:.0f} ms apart. "
        f"One `python app.py`, SQLite, "
        f"Argon2id time cost {auth.argon2_time_cost}, {auth.argon2_memory_kib} KiB, rate limits off, loopback, "
        f"{platform.machine()}, Python {platform.python_version()}.",
        "",
        "| request | has an account: p50 ms | has none: p50 ms | ratio | p90 with | p90 without |",
        "|---|---:|---:|---:|---:|---:|",
        row("POST /auth/password-reset (202 both)", results["reset+"], results["reset-"]),
        row("POST /auth/login, wrong password (401 both)", results["login+"], results["login-"]),
        "",
    ])
    print(tables)
    write_keeping_findings(ROOT / "bench" / "results" / "accounts.md", tables)


if __name__ == "__main__":
    main()
