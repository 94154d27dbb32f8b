"""schemathesis against a live ``python app.py``: the OpenAPI document must be true to the wire.

A registered user's token authenticates every request; ``tests/support/api_seed.py`` first makes rooms,
messages, documents, a file and the rest, and the generated config binds each path parameter to
those ids most of the time (the rest is fuzzed), so operations get past their 404s. Destructive
operations draw from their own victims. Both the coverage phase (every documented status, boundary
and missing value, wrong types, unexpected methods and media types) and the fuzzing phase run, with
the five checks the issue names; a failure prints schemathesis' own report, with ``st replay`` ids.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.api_seed import Seeded, seed
from tests.support.harness import serving

CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "negative_data_rejection")
#: cases per operation in the fuzzing phase; CONFAB_FUZZ_EXAMPLES raises it for a longer hunt
MAX_EXAMPLES = int(os.environ.get("CONFAB_FUZZ_EXAMPLES", "25"))
SEED = os.environ.get("CONFAB_FUZZ_SEED", "19")
#: how often a path parameter takes a seeded id rather than a generated one (or one seen in a response)
SEEDED_PROBABILITY = 0.8
#: (method, path, parameter, victims key): operations that destroy what they name, or the caller's access
#: to it (removing a member may remove oneself); always given a victim, never an id the others need
DESTRUCTIVE = (("DELETE", "/api/v1/rooms/{room_id}", "room_id", "room_id"),
               ("POST", "/api/v1/rooms/{room_id}/leave", "room_id", "leave_room_id"),
               ("DELETE", "/api/v1/rooms/{room_id}/members/{user_id}", "room_id", "leave_room_id"),
               ("DELETE", "/api/v1/messages/{message_id}", "message_id", "message_id"),
               ("DELETE", "/api/v1/documents/{document_id}", "document_id", "document_id"))
#: Where a check is wrong about this API, the correction and why:
CHECK_SETTINGS = (
    # negative_data_rejection counts only 400/401/403/404/405/406/409/415/422/428/429/5xx as "rejected".
    # Two more statuses refuse a request before any field is looked at, and are rejections all the same:
    # 413 PAYLOAD_TOO_LARGE for an upload with more multipart parts than the server parses (or a form
    # field over its limit), and 414 from the HTTP server for a request line over 8 KiB (a long array
    # of repeated query parameters, say).
    "[checks.negative_data_rejection]",
    'expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "414", "415", "422", "428", '
    '"429"]',
)

pytestmark = pytest.mark.timeout(600)


def _toml_value(value: object) -> str:
    return json.dumps(value)  # a JSON string or list of strings is a TOML one too


def schemathesis_config(seeded: Seeded) -> str:
    lines = [f"headers = {{ Authorization = {_toml_value('Bearer ' + seeded.token)} }}",
             "request-timeout = 30", ""]
    dictionaries = {**{name: ids for name, ids in seeded.ids.items()},
                    **{f"victim_{name}": ids for name, ids in seeded.victims.items()}}
    for name, ids in dictionaries.items():
        lines += [f"[dictionaries.{name}]", f"values = {_toml_value(ids)}", ""]
    lines.append("[parameters]")
    lines += [f'"path.{name}" = {{ dictionary = "{name}", probability = {SEEDED_PROBABILITY} }}'
              for name in seeded.ids]
    lines.append("")
    for method, path, parameter, victims in DESTRUCTIVE:
        lines += ["[[operations]]", f'include-method = "{method}"', f"include-path = {_toml_value(path)}",
                  f'parameters = {{ "path.{parameter}" = {{ dictionary = "victim_{victims}", probability = 1.0 }} }}',
                  ""]
    return "\n".join([*lines, *CHECK_SETTINGS, ""])


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory):
    # No rate limits: thousands of requests must reach the operations, not the limiter (429 is in the
    # document on every operation all the same). Webhook deliveries never run: a fuzzed webhook URL
    # must not make this machine call out anywhere. The seeded webhook points at this machine, which
    # webhooks may only reach when allowed (as on a LAN).
    with serving(tmp_path_factory.mktemp("schemathesis"), env={
            "CONFAB_RATE_LIMIT_ENABLED": "false", "CONFAB_AUTH_ACCESS_TOKEN_TTL_S": "3600",
            "CONFAB_WEBHOOKS_ALLOWED_TARGETS": "127.0.0.1/32",
            "CONFAB_WEBHOOKS_DISPATCH_INTERVAL_S": "86400", "CONFAB_CHAT_SEND_RATE": "1000"}) as server:
        yield server


def test_the_document_holds_against_schemathesis(fuzzed_server, tmp_path):
    seeded = seed(fuzzed_server)
    config = tmp_path / "schemathesis.toml"
    config.write_text(schemathesis_config(seeded))
    # One worker: with two, schemathesis' threads race in CPython 3.11's ast module ("AST constructor
    # recursion depth mismatch", an error of the tool, not of the API), and the server is the bottleneck
    # anyway. Health checks off: they judge the generators' speed, which says nothing about the API.
    command = [str(Path(sys.executable).with_name("schemathesis")), "--no-color", "--config-file", str(config),
               "run", f"{fuzzed_server.base}/api/v1/openapi.json", "--phases", "coverage,fuzzing",
               "--checks", ",".join(CHECKS), "--max-examples", str(MAX_EXAMPLES), "--seed", SEED,
               "--workers", "1", "--generation-database", "none", "--suppress-health-check", "all"]
    started = time.monotonic()
    run = subprocess.run(command, capture_output=True, text=True, timeout=540, cwd=tmp_path)
    elapsed = time.monotonic() - started
    summary = run.stdout[run.stdout.rfind("SUMMARY"):] if "SUMMARY" in run.stdout else run.stdout[-3000:]
    print(f"schemathesis: {elapsed:.0f} s, exit {run.returncode}\n{summary}")
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-3000:] + fuzzed_server.log()
