"""The web UI: how the server serves it, and the app itself in a real browser.

The browser tests run ``tests/browser/ui.mjs`` (headless Debian Chromium driven by npm's playwright-core)
against ``python app.py``: three users in three browser contexts sign up, chat, drop a socket, share and
co-edit a document, and a viewer fails to type; ``tests/browser/push.mjs``: a DM pushed from the UI's opt-in
to the service worker's notification; ``tests/browser/recovery.mjs`` against a server that e-mails (a real
SMTP server in this process): sign-up with e-mail verification, an avatar, a forgotten password reset
through the e-mailed link. It needs ``/usr/bin/chromium`` and ``web/ui/node_modules``
(``make ui``): skipped with the reason when either is missing, required when ``CI`` is set. Screenshots of
each main screen go to ``test-output/browser/``; with ``CONFAB_UPDATE_SCREENSHOT=1`` the chat one is copied to
``docs/screenshot-chat.png`` (the README's), so an ordinary run leaves the checkout unchanged.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from tests.support.browser_env import CHROMIUM, node_modules, require
from tests.support.harness import ROOT, Server, ServerProcess, free_port
from tests.support.smtp_sink import smtp_sink

UI = ROOT / "web" / "ui"
STATIC = ROOT / "web" / "static"
OUTPUT = ROOT / "test-output" / "browser"
SCREENS = ("login", "chat", "chat-narrow", "document", "document-viewer", "history", "documents", "settings", "admin")
RECOVERY_SCREENS = ("verify", "avatar", "profile", "forgot", "reset", "reset-done")
#: short enough that the run sees the quiet refresh (60 s before expiry) and a socket closed at expiry
ACCESS_TTL_S = 90


def _bundle() -> tuple[str, str]:
    html = (STATIC / "index.html").read_text()
    js = re.search(r'src="/static/(app-[A-Z0-9]+\.js)"', html)
    css = re.search(r'href="/static/(app-[A-Z0-9]+\.css)"', html)
    assert js and css, html
    return js.group(1), css.group(1)


def test_root_serves_the_app_and_revalidates_it(server: Server) -> None:
    response = requests.get(f"{server.base}/")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Cache-Control"] == "no-cache" and response.headers["ETag"]
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    again = requests.get(f"{server.base}/", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_hashed_bundle_is_cached_for_good_and_gzipped(server: Server) -> None:
    js, css = _bundle()
    for name, kind in ((js, "text/javascript"), (css, "text/css")):
        plain = requests.get(f"{server.base}/static/{name}", headers={"Accept-Encoding": "identity"})
        assert plain.status_code == 200 and plain.headers["Content-Type"].startswith(kind)
        assert plain.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert "Content-Encoding" not in plain.headers and plain.content == (STATIC / name).read_bytes()
        packed = requests.get(f"{server.base}/static/{name}", headers={"Accept-Encoding": "gzip"})
        assert packed.headers["Content-Encoding"] == "gzip" and packed.headers["Vary"] == "Accept-Encoding"
        assert packed.content == plain.content  # requests inflates it: the same bytes
        assert int(packed.headers["Content-Length"]) < len(plain.content) / 2


def test_service_worker_is_served_from_the_root(server: Server) -> None:
    """Its scope is the folder it is served from: /sw.js covers the whole app."""
    response = requests.get(f"{server.base}/sw.js")
    assert response.status_code == 200 and "javascript" in response.headers["Content-Type"]
    assert response.headers["Cache-Control"] == "no-cache" and response.headers["Service-Worker-Allowed"] == "/"
    assert b"addEventListener('push'" in response.content


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/static/missing.js", "/static/../app.py", "/chat",
                                  "/static/%2e%2e/routes/ui.py"])
def test_only_root_and_static_files_are_ui(server: Server, path: str) -> None:
    """Client routes live in the fragment: any other path keeps the JSON NOT_FOUND of the API."""
    response = requests.get(f"{server.base}{path}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_committed_bundle_matches_the_source(tmp_path: Path) -> None:
    """web/static is what `make ui` builds from web/ui/src now (esbuild output is deterministic)."""
    require(node_modules())
    subprocess.run(["node", str(UI / "build.mjs"), str(tmp_path)], check=True, capture_output=True, timeout=120)
    built = sorted(p.name for p in tmp_path.iterdir())
    assert built == sorted(p.name for p in STATIC.iterdir()), "web/static is stale: run make ui"
    for name in built:
        if not name.endswith(".gz"):
            assert (tmp_path / name).read_bytes() == (STATIC / name).read_bytes(), name


def _scenario(script: str, server: ServerProcess, *args: str) -> None:
    """Run a browser scenario against the server; it fails with the scenario's output and the server's log."""
    try:
        server.wait_ready()
        print(f"browser screenshots: {OUTPUT}")
        result = subprocess.run(["node", str(ROOT / "tests" / "browser" / script), server.base, str(OUTPUT), *args],
                                cwd=ROOT, capture_output=True, text=True, timeout=300,
                                env={**os.environ, "CHROMIUM": str(CHROMIUM)})
    finally:
        server.stop()
    print(result.stdout)
    assert result.returncode == 0, f"{result.stdout[-6000:]}\n{result.stderr[-3000:]}\nserver log:\n{server.log()}"


@pytest.mark.timeout(360)
def test_web_ui_in_chromium(tmp_path: Path) -> None:
    require((CHROMIUM.exists(), str(CHROMIUM)), node_modules())
    shutil.rmtree(OUTPUT, ignore_errors=True)
    _scenario("ui.mjs", ServerProcess(tmp_path / "data", env={"CONFAB_AUTH_ACCESS_TOKEN_TTL_S": str(ACCESS_TTL_S),
                                                               "CONFAB_CHAT_SEND_RATE": "1000"}))
    for name in SCREENS:
        assert (OUTPUT / f"{name}.png").stat().st_size > 5000, name
    if os.environ.get("CONFAB_UPDATE_SCREENSHOT"):
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copyfile(OUTPUT / "chat.png", ROOT / "docs" / "screenshot-chat.png")


@pytest.mark.timeout(240)
def test_web_push_in_chromium(tmp_path: Path) -> None:
    """push.mjs stands in for Chromium's push service on loopback (allowed as a push target here)."""
    require((CHROMIUM.exists(), str(CHROMIUM)), node_modules())
    _scenario("push.mjs", ServerProcess(tmp_path / "data", env={"CONFAB_WEBHOOKS_ALLOWED_TARGETS": "127.0.0.1/32"}))


@pytest.mark.timeout(240)
def test_account_recovery_in_chromium(tmp_path: Path) -> None:
    """The e-mails' links lead into the UI (``email.base_url`` is the test server's address)."""
    require((CHROMIUM.exists(), str(CHROMIUM)), node_modules())
    spool = tmp_path / "mail"
    spool.mkdir()
    port = free_port()
    with smtp_sink(spool) as (_, settings):
        env = {f"CONFAB_EMAIL_{key.upper()}": value for key, value in settings.items()}
        env.update(CONFAB_EMAIL_BASE_URL=f"http://127.0.0.1:{port}", CONFAB_AUTH_EMAIL_VERIFICATION="on")
        _scenario("recovery.mjs", ServerProcess(tmp_path / "data", env=env, port=port), str(spool))
    for name in RECOVERY_SCREENS:
        assert (OUTPUT / f"{name}.png").stat().st_size > 5000, name
