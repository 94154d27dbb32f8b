"""Files over real HTTP and /ws: upload, attach, download by members only, content addressing, hostile
names and images, size limits, caching headers."""
import io
import struct
import uuid
import zlib

import pytest
import requests
from PIL import Image

from storage.file_types import safe_name
from tests.support.harness import bearer
from tests.support.chat_helpers import ChatClient, new_room, user

LIMIT = 100_000


SERVER_CONFIG = {"files": {"max_upload_bytes": str(LIMIT)}, "chat": {"send_rate": "100"}}


def files_dir(server):
    return server.confab.services.config.files_path


def stored(server):
    """Every file under the files folder, by name relative to it."""
    return sorted(str(p.relative_to(files_dir(server))) for p in files_dir(server).rglob("*") if p.is_file())


def png(width=800, height=600, color="red"):
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def bomb_png(width, height):
    """A tiny PNG whose header claims a huge canvas (IHDR rewritten, CRC fixed)."""
    data = bytearray(png(1, 1))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def upload(server, login, name, content, content_type, **kwargs):
    return requests.post(f"{server.base}/api/v1/upload", headers=bearer(login["access_token"]),
                         files={"file": (name, content, content_type)}, **kwargs)


def uploaded(server, login, name, content, content_type):
    response = upload(server, login, name, content, content_type)
    assert response.status_code == 201, response.text
    return response.json()


def said_with(server, login, room, content, *file_ids):
    """The message ``login`` sends to ``room`` over /ws with ``file_ids`` attached."""
    client = ChatClient(server.ws_base, login)
    try:
        client.join(room)
        return client.say(room, content, attachments=list(file_ids))
    finally:
        client.close()


def fetch(server, login, path, **headers):
    return requests.get(f"{server.base}{path}", headers={**bearer(login["access_token"]), **headers})


def refused(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["code"] == code and body["request_id"] == response.headers["X-Request-ID"]
    return body


def without_links(attachments):
    """Attachment objects without their signed links (which name the grant: uploader or room)."""
    return [{k: v for k, v in a.items() if k not in ("file_url", "thumbnail_url")} for a in attachments]


@pytest.mark.engines("sqlite", "postgresql")
def test_upload_attach_member_downloads_stranger_gets_not_found(server):
    (a_login, a_api), (b_login, b_api), (c_login, c_api) = user(server), user(server), user(server)
    image = png()
    upload_body = uploaded(server, a_login, "cat.png", image, "image/png")
    file_id = upload_body["file_id"]
    assert without_links([upload_body]) == [{"file_id": file_id, "file_name": "cat.png", "content_type": "image/png",
                                             "file_size": len(image), "sha256": upload_body["sha256"]}]
    assert upload_body["file_url"].startswith(f"/files/{file_id}?grant=user")
    assert upload_body["thumbnail_url"].startswith(f"/files/{file_id}/thumbnail?grant=user")
    assert requests.get(server.base + upload_body["thumbnail_url"]).status_code == 200  # the uploader's link
    assert fetch(server, b_login, f"/files/{file_id}").status_code == 404  # not shared yet

    room = new_room(a_api)
    assert b_api.post(f"/rooms/{room}/join").status_code == 200
    a, b = ChatClient(server.ws_base, a_login), ChatClient(server.ws_base, b_login)
    try:
        a.join(room), b.join(room)
        message = a.say(room, "look", attachments=[file_id])
        assert without_links(message["attachments"]) == without_links([upload_body])
        live = b.wait_for(lambda f: f["type"] == "new_message" and f["message"]["id"] == message["id"])
        assert live["message"]["attachments"] == message["attachments"]  # one link for every member
        link = message["attachments"][0]
        assert link["file_url"].startswith(f"/files/{file_id}?grant=room")

        # a member downloads it (header, or the signed link as an <img> would), with its thumbnail
        got = fetch(server, b_login, f"/files/{file_id}")
        assert got.status_code == 200 and got.content == image and got.headers["Content-Type"] == "image/png"
        by_link = requests.get(server.base + link["thumbnail_url"])
        assert by_link.status_code == 200 and by_link.headers["Content-Type"] == "image/webp"
        assert Image.open(io.BytesIO(by_link.content)).size == (320, 240)
        assert requests.get(server.base + link["file_url"]).content == image
        by_token = requests.get(f"{server.base}/files/{file_id}", params={"token": b_login["access_token"]})
        assert by_token.status_code == 401  # tokens travel in the header only, never in a URL
        history = b_api.get(f"/rooms/{room}/messages").json()["items"]
        assert history[-1]["attachments"] == message["attachments"]

        # a stranger: NOT_FOUND for the file and its thumbnail, exactly as for a file that does not exist
        for path in (f"/files/{file_id}", f"/files/{file_id}/thumbnail", f"/files/{uuid.uuid4()}"):
            assert refused(fetch(server, c_login, path), 404, "NOT_FOUND")["message"] == "file not found"
        assert requests.get(f"{server.base}/files/{file_id}").status_code == 401

        # a member may forward a file they can read; a stranger may not attach it (and nothing is stored)
        other = new_room(b_api, name="elsewhere")
        b.join(other)
        assert without_links(b.say(other, "fwd", attachments=[file_id])["attachments"]) == without_links([upload_body])
        just_the_file = b.say(other, "", attachments=[file_id])  # a message may be only its files
        assert just_the_file["content"] == "" and without_links(just_the_file["attachments"]) == \
            without_links([upload_body])
        c_room = new_room(c_api, name="c")
        c = ChatClient(server.ws_base, c_login)
        try:
            c.join(c_room)
            reply = c.request({"type": "send_message", "room_id": c_room, "content": "mine now",
                               "client_msg_id": "x1", "attachments": [file_id]})
            assert reply["type"] == "error" and reply["error"]["code"] == "NOT_FOUND"
            assert "attachments" in reply["error"]["details"]["fields"]
            assert c_api.get(f"/rooms/{c_room}").json()["last_seq"] == 0
            assert fetch(server, c_login, f"/files/{file_id}").status_code == 404
            bad = c.request({"type": "send_message", "room_id": c_room, "content": "x", "client_msg_id": "x2",
                             "attachments": ["../../etc/passwd"]})
            assert bad["type"] == "error" and bad["error"]["code"] == "BAD_REQUEST"
            too_many = c.request({"type": "send_message", "room_id": c_room, "content": "x", "client_msg_id": "x3",
                                  "attachments": [str(uuid.uuid4()) for _ in range(11)]})
            assert too_many["error"]["code"] == "BAD_REQUEST"
        finally:
            c.close()
    finally:
        a.close(), b.close()

    # leaving the room where it was shared ends access (the forward in b's own room still counts)
    assert a_api.delete(f"/rooms/{room}/members/{b_login['user']['id']}").status_code == 204
    assert fetch(server, b_login, f"/files/{file_id}").status_code == 200
    forwarded_link = just_the_file["attachments"][0]["file_url"]
    assert requests.get(server.base + forwarded_link).status_code == 200
    assert b_api.delete(f"/rooms/{other}").status_code == 204
    assert fetch(server, b_login, f"/files/{file_id}").status_code == 404
    assert requests.get(server.base + forwarded_link).status_code == 404  # the room's grant is gone
    assert fetch(server, a_login, f"/files/{file_id}").status_code == 200  # the uploader, always


def test_download_headers_and_conditional_get(server):
    login, _ = user(server)
    body = uploaded(server, login, "résumé ü.txt", "<html><script>alert(1)</script>".encode(), "text/plain")
    got = fetch(server, login, body["file_url"])
    assert got.status_code == 200
    assert got.headers["Content-Type"] == "text/plain; charset=utf-8"  # never as HTML
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["ETag"] == f'"{body["sha256"]}"'
    assert got.headers["Cache-Control"] == "private, max-age=3600"
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9%20%C3%BC.txt" in got.headers["Content-Disposition"]
    again = fetch(server, login, body["file_url"], **{"If-None-Match": got.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""
    assert refused(fetch(server, login, f"{body['file_url']}/thumbnail"), 404, "NOT_FOUND")
    assert body["thumbnail_url"] is None


@pytest.mark.engines("sqlite", "postgresql")
def test_duplicate_upload_is_stored_once(server):
    (a_login, _), (b_login, _) = user(server), user(server)
    content = f"same bytes {uuid.uuid4()}".encode()
    before = stored(server)
    first = uploaded(server, a_login, "one.txt", content, "text/plain")
    second = uploaded(server, b_login, "two.txt", content, "text/plain")
    assert first["file_id"] != second["file_id"] and first["sha256"] == second["sha256"]
    added = sorted(set(stored(server)) - set(before))
    assert added == [f"{first['sha256'][:2]}/{first['sha256']}"]
    assert fetch(server, b_login, second["file_url"]).content == content
    # the same image twice: one blob and one thumbnail
    before = stored(server)
    image = png(640, 640, "blue")
    assert uploaded(server, a_login, "a.png", image, "image/png")["sha256"] == \
        uploaded(server, b_login, "b.png", image, "image/png")["sha256"]
    assert len(set(stored(server)) - set(before)) == 2


def test_traversal_file_names_never_leave_the_folder(server):
    login, _ = user(server)
    root = files_dir(server).parent
    cases = {"../../../outside.txt": "outside.txt", "..\\..\\win.txt": "win.txt", "/etc/passwd": "passwd",
             "..": "file", "\u202etxt.exe": "txt.exe", "x/" + "a" * 300 + ".txt": "a" * 196 + ".txt"}
    for raw, expected in cases.items():
        body = uploaded(server, login, raw, f"{raw} {uuid.uuid4()}".encode(), "text/plain")
        assert body["file_name"] == expected
        assert fetch(server, login, body["file_url"]).status_code == 200
    assert not list(root.parent.rglob("outside.txt")) and not list(root.rglob("win.txt"))
    assert all(len(name.split("/")[-1]) == 64 for name in stored(server))  # only digests, no temp files
    for probe in ("..%2F..%2Fconfab.db", "%2e%2e%2fconfab.db", "..%5C..%5Cconfab.db", "%2e%2e"):  # kept as sent
        assert refused(fetch(server, login, f"/files/{probe}"), 404, "NOT_FOUND")


@pytest.mark.parametrize("content, content_type, reason", [
    (b"just some text, not a picture", "image/png", "not a valid PNG image"),
    (png()[:200], "image/png", "not a valid PNG image"),  # truncated
    (png(), "image/jpeg", "not a valid JPEG image"),  # a real image of another type
    (bomb_png(50_000, 50_000), "image/png", "pixels"),  # Pillow's hard limit
    (bomb_png(7_000, 7_000), "image/png", "pixels"),  # over ours, under Pillow's
    (b"hello", "application/pdf", "not a PDF document"),
    (b"\xff\xfe bad utf-8", "text/plain", "not UTF-8"),
    (b"<html></html>", "text/html", "not accepted"),
], ids=["text-as-png", "truncated-png", "png-as-jpeg", "bomb-over-pillow-limit", "bomb-over-our-limit",
        "text-as-pdf", "bad-utf8", "html"])
def test_content_that_is_not_what_it_claims_is_refused(server, content, content_type, reason):
    login, _ = user(server)
    before = stored(server)
    body = refused(upload(server, login, "thing.png", content, content_type), 400, "BAD_REQUEST")
    assert reason in body["details"]["fields"]["file"][0]
    assert stored(server) == before  # nothing kept, not even a temporary file


def test_oversized_upload_gets_payload_too_large(server):
    login, _ = user(server)
    before = stored(server)
    declared_too_big = upload(server, login, "big.txt", b"a" * (LIMIT + 100_000), "text/plain")
    assert refused(declared_too_big, 413, "PAYLOAD_TOO_LARGE")["details"] == {"max_upload_bytes": LIMIT}
    just_over = upload(server, login, "big.txt", b"a" * (LIMIT + 1), "text/plain")  # found while streaming
    refused(just_over, 413, "PAYLOAD_TOO_LARGE")
    assert stored(server) == before
    assert uploaded(server, login, "fits.txt", b"b" * LIMIT, "text/plain")["file_size"] == LIMIT


def test_chunked_upload_is_counted_as_it_streams(server):
    login, _ = user(server)
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.txt\"\r\n"
            f"Content-Type: text/plain\r\n\r\n").encode()

    def body(size):
        yield head
        for _ in range(size // 10_000):
            yield b"c" * 10_000
        yield f"\r\n--{boundary}--\r\n".encode()

    headers = {**bearer(login["access_token"]), "Content-Type": f"multipart/form-data; boundary={boundary}"}
    ok = requests.post(f"{server.base}/api/v1/upload", data=body(50_000), headers=headers)
    assert ok.status_code == 201 and ok.json()["file_size"] == 50_000
    refused(requests.post(f"{server.base}/api/v1/upload", data=body(300_000), headers=headers), 413,
            "PAYLOAD_TOO_LARGE")


def test_malformed_uploads_are_bad_requests(server):
    login, _ = user(server)
    url, auth = f"{server.base}/api/v1/upload", bearer(login["access_token"])
    assert "file" in refused(requests.post(url, headers=auth, json={"file": "x"}), 415,
                             "BAD_REQUEST")["details"]["fields"]
    no_file = requests.post(url, headers=auth, files={"other": ("a.txt", b"a", "text/plain")})
    assert refused(no_file, 400, "BAD_REQUEST")["details"]["fields"]["file"]
    two = requests.post(url, headers=auth, files=[("file", ("a.txt", b"a", "text/plain")),
                                                  ("file", ("b.txt", b"b", "text/plain"))])
    refused(two, 400, "BAD_REQUEST")
    refused(upload(server, login, "empty.txt", b"", "text/plain"), 400, "BAD_REQUEST")
    broken = requests.post(url, headers={**auth, "Content-Type": "multipart/form-data; boundary=zz"},
                           data=b"--zz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nabc")
    assert broken.status_code == 400
    guessed = uploaded(server, login, "notes.txt", b"guessed from the name", "application/octet-stream")
    assert guessed["content_type"] == "text/plain"
    assert requests.post(url, files={"file": ("a.txt", b"a", "text/plain")}).status_code == 401


def test_safe_name():
    assert safe_name("../../a.txt") == "a.txt"
    assert safe_name("C:\\Users\\x\\evil.png") == "evil.png"
    assert safe_name("a\x00b\x1f\u200bc.txt") == "abc.txt"
    assert safe_name(" .hidden ") == "hidden"
    assert safe_name(None) == safe_name("") == safe_name("...") == "file"
    assert safe_name("e\u0301.txt") == "\u00e9.txt"  # NFC
