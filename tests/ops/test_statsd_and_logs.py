"""Metrics arrive as real statsd UDP packets; every log line a request causes carries its request id."""
import io
import json
import logging
import time

import requests

from domain import logs

from tests.support.harness import ServerProcess, StatsdReceiver, bearer, connect_ws, register, running_server, ws_request
from tests.support.chat_helpers import ChatClient, new_room, user


def test_statsd_packets_for_requests_sessions_and_errors(tmp_path):
    """Gauges carry the instance's name (they are per instance); counters and timers are the cluster's."""
    receiver = StatsdReceiver()
    statsd = {"enabled": "true", "port": receiver.port, "prefix": "confab", "instance": "web-1.example.com"}
    with running_server(tmp_path, statsd=statsd) as server:
        token = register(server.base)["access_token"]
        requests.get(f"{server.base}/api/v1/auth/me", headers=bearer("nope"))
        requests.get(f"{server.base}/no/such/path")
        ws = connect_ws(f"{server.ws_base}/ws", token)
        ws_request(ws, {"type": "ping"})
        wanted = ("confab.http.request:", "confab.web-1_example_com.ws.sessions:1|g", "confab.errors.UNAUTHORIZED:1|c",
                  "confab.http.route.auth_register.2xx:", "confab.http.route.auth_me.4xx:",
                  "confab.http.route.unmatched.4xx:", "confab.web-1_example_com.broker.lag.chat_commands.0.chat_writer:")
        packets = receiver.wait_for(*wanted)
        ws.close()
    receiver.close()
    for prefix in wanted:
        assert any(p.startswith(prefix) for p in packets), (prefix, packets[:20])
    assert not any(p.startswith(("confab.ws.", "confab.broker.lag.")) and p.endswith("|g") for p in packets)
    assert "confab.ws.frames.ping:1|c" in packets  # a counter: the cluster's, without the instance name
    timer = next(p for p in packets if p.startswith("confab.http.request:"))
    assert timer.endswith("|ms") and float(timer.split(":")[1].split("|")[0]) >= 0


def test_ws_frames_by_type_ack_latency_and_refused_commands_are_counted(tmp_path):
    """What a /ws user waits on: frames by type, send → ack, and a command refused at its commit (the
    error frame arrives after the writer's transaction, not from the frame's own handling)."""
    receiver = StatsdReceiver()
    with running_server(tmp_path, statsd={"enabled": "true", "port": receiver.port, "prefix": "confab"}) as server:
        login, api = user(server)
        client = ChatClient(server.ws_base, login)
        room = new_room(api)
        client.join(room)
        assert client.say(room, "hello")["content"] == "hello"  # acked
        refused = client.request({"type": "edit_message", "message_id": "no-such-message", "new_content": "x"})
        assert refused["type"] == "error" and refused["error"]["code"] == "NOT_FOUND"
        wanted = ("confab.ws.frames.join_room:1|c", "confab.ws.frames.send_message:1|c",
                  "confab.ws.frames.edit_message:1|c", "confab.chat.ack_latency:", "confab.errors.NOT_FOUND:1|c")
        packets = receiver.wait_for(*wanted)
        client.close()
    receiver.close()
    for prefix in wanted:
        assert any(p.startswith(prefix) for p in packets), (prefix, packets[:30])
    acked = [p for p in packets if p.startswith("confab.chat.ack_latency:")]
    assert len(acked) == 1 and acked[0].endswith("|ms")  # the send's ack; the refused edit is an error, not an ack


def test_every_line_of_a_request_carries_its_request_id_in_json(tmp_path):
    server = ServerProcess(tmp_path, "--log-format", "json", "--log-level", "INFO")
    try:
        server.wait_ready()
        register(server.base, "logcheck")
        requests.post(f"{server.base}/api/v1/auth/login", json={"username": "logcheck", "password": "wrong"},
                      headers={"X-Request-ID": "trace-login-1"})
        requests.post(f"{server.base}/api/v1/auth/login", json={"username": "logcheck", "password": "correct horse"},
                      headers={"X-Request-ID": "trace-login-2"})
        time.sleep(0.3)
    finally:
        server.stop()
    lines = [json.loads(line) for line in server.log_path.read_text().splitlines() if line.startswith("{")]
    failed = [line for line in lines if line["event"] == "login.failed"]
    ok = [line for line in lines if line["event"] == "login.ok"]
    assert failed and all(line["request_id"] == "trace-login-1" for line in failed)
    assert ok and ok[-1]["request_id"] == "trace-login-2"
    text = server.log_path.read_text()
    assert "correct horse" not in text and "jwt" not in text.lower().replace("jwt_secret", "")


def test_text_lines_cannot_be_forged_by_what_clients_send(tmp_path):
    """A login name with spaces and ``=`` would otherwise add a field to the line; control characters, a
    line. The text format quotes such values as JSON strings and indents tracebacks."""
    server = ServerProcess(tmp_path, "--log-format", "text", "--log-level", "INFO")
    forged = "ana user_id=admin client_ip=10.0.0.1"
    try:
        server.wait_ready()
        requests.post(f"{server.base}/api/v1/auth/login", json={"username": forged, "password": "wrong"})
        time.sleep(0.3)
    finally:
        server.stop()
    line = next(line for line in server.log_path.read_text().splitlines() if " login.failed " in line)
    assert line.endswith(f'identifier="{forged}"'), line
    assert " user_id=" not in line.split("identifier=")[0]


def test_text_values_escape_line_breaks_controls_and_surrogates():
    stream = io.StringIO()
    logs.configure("INFO", "text", stream)
    fake = "x\n2026-01-01T00:00:00.000Z INFO    confab.auth login.ok user_id=root"
    logs.event(logging.getLogger("confab.test"), "forged", value=fake, plain="abc", odd="a\ud800\x85\u2028")
    try:
        raise ValueError("boom\n2026-01-01T00:00:00.000Z ERROR fake")
    except ValueError as exc:
        logs.event(logging.getLogger("confab.test"), "crashed", logging.ERROR, exc_info=exc)
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith(' value="x\\n2026-01-01T00:00:00.000Z INFO    confab.auth login.ok user_id=root"'
                             ' plain=abc odd="a\\ud800\\u0085\\u2028"')
    assert "crashed" in lines[1] and all(line.startswith("  ") for line in lines[2:])
    logs.configure("WARNING", "text")
