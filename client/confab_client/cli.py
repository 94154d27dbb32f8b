"""``confab-cli`` (also ``python -m confab_client``): Confab from a shell, on the SDK.

    confab-cli login --server http://127.0.0.1:8080 --username ana     # asks for the password
    confab-cli rooms
    confab-cli send general "deploy finished"
    confab-cli tail general --since 0                                  # live; resumes after a drop
    confab-cli upload report.pdf --room general
    confab-cli doc cat DOC_ID
    echo "new text" | confab-cli doc edit DOC_ID                      # or --append

``--json`` prints JSON (one object per line for ``tail``). Errors go to stderr as ``CODE: message``
with exit status 1. ROOM is a room id or the exact name of a room you are in.
"""
from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any, Callable

from confab_client import config
from confab_client.errors import BadRequest, ConfabError, Forbidden, Unauthorized
from confab_client.rest import Client


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except ConfabError as exc:
        print(f"confab-cli: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="confab-cli", description="Confab from the command line.")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    common = argparse.ArgumentParser(add_help=False)  # --json after the command too; it never resets it
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, run: Callable[[argparse.Namespace], int | None], text: str,
                group: Any = commands) -> argparse.ArgumentParser:
        sub = group.add_parser(name, help=text, description=text, parents=[common])
        sub.set_defaults(run=run)
        return sub

    login = command("login", _login, "store credentials (mode 0600) for the other commands")
    login.add_argument("--server", required=True, help="e.g. http://127.0.0.1:8080")
    login.add_argument("--username", help="username or e-mail (asks for the password)")
    login.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    login.add_argument("--api-key-stdin", action="store_true", help="read an API key (cfk_…) from stdin instead")
    command("logout", _logout, "forget the stored credentials")
    rooms = command("rooms", _rooms, "list your rooms (or the public ones)")
    rooms.add_argument("--public", action="store_true")
    send = command("send", _send, "send a message (TEXT '-' reads stdin)")
    send.add_argument("room")
    send.add_argument("text")
    send.add_argument("--reply-to", help="a message id: reply in its thread")
    send.add_argument("--file", action="append", default=[], help="attach an uploaded file id (repeatable)")
    tail = command("tail", _tail, "print a room's messages as they arrive")
    tail.add_argument("room")
    tail.add_argument("--since", type=int, help="first print every message after this seq (0: all)")
    tail.add_argument("--count", type=int, help="exit after this many messages")
    upload = command("upload", _upload, "upload a file (and post it into a room)")
    upload.add_argument("file")
    upload.add_argument("--room", help="post the file into this room")
    upload.add_argument("--text", default="", help="with --room: the message's text")
    doc = commands.add_parser("doc", help="documents").add_subparsers(required=True, metavar="ACTION")
    command("cat", _doc_cat, "print a document's text", doc).add_argument("id")
    edit = command("edit", _doc_edit, "replace a document's text with stdin (one CRDT change: only what differs)",
                   doc)
    edit.add_argument("id")
    edit.add_argument("--append", action="store_true", help="append stdin instead of replacing")
    return parser


# --- plumbing ------------------------------------------------------------------------------------------

def _client() -> Client:
    stored = config.load()
    if not stored.get("server"):
        raise Unauthorized("not logged in: run confab-cli login --server URL ...")
    return Client(stored["server"], api_key=stored.get("api_key"), access_token=stored.get("access_token"),
                  refresh_token=stored.get("refresh_token"), on_tokens=lambda tokens: config.update(**tokens))


def _out(args: argparse.Namespace, value: Any, text: str) -> None:
    print(json.dumps(value, ensure_ascii=False) if args.json else text, flush=True)


def _room_id(client: Client, room: str) -> str:
    """A room id, or the exact name of one of the caller's rooms."""
    mine = client.rooms()
    if any(r["id"] == room for r in mine):
        return room
    named = [r["id"] for r in mine if r["name"] == room]
    if len(named) > 1:
        raise BadRequest(f"{len(named)} of your rooms are named {room!r}: use the room id")
    return named[0] if named else room


def _line(message: dict[str, Any]) -> str:
    name = message.get("display_name") or message["user"]["display_name"] or message["user"]["username"]
    badge = " [bot]" if message["user"].get("is_bot") else ""
    files = "".join(f" [file {a['file_name']}]" for a in message.get("attachments", []))
    return f"#{message['seq']} {name}{badge}: {message['content']}{files}"


# --- commands ------------------------------------------------------------------------------------------

def _login(args: argparse.Namespace) -> None:
    client = Client(args.server)
    if args.api_key_stdin:
        client.api_key = sys.stdin.readline().strip()
        user = client.me()
        path = config.save({"server": args.server, "api_key": client.api_key})
    else:
        if not args.username:
            raise BadRequest("--username is required (or --api-key-stdin)")
        password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass()
        user = client.login(args.username, password)
        path = config.save({"server": args.server, "access_token": client.access_token,
                            "refresh_token": client.refresh_token})
    _out(args, {"user": user, "credentials": str(path)}, f"logged in as {user['username']} ({path})")


def _logout(args: argparse.Namespace) -> None:
    config.credentials_path().unlink(missing_ok=True)
    _out(args, {"logged_out": True}, "logged out")


def _rooms(args: argparse.Namespace) -> None:
    rooms = _client().rooms("public" if args.public else "joined")
    if args.json:
        _out(args, rooms, "")
        return
    for room in rooms:
        unread = f"  ({room['unread_count']} unread)" if room.get("unread_count") else ""
        print(f"{room['id']}  {room['name']}{' [private]' if room['is_private'] else ''}{unread}")


def _send(args: argparse.Namespace) -> None:
    client = _client()
    text = sys.stdin.read() if args.text == "-" else args.text
    message = client.send_message(_room_id(client, args.room), text, reply_to_id=args.reply_to,
                                  attachments=args.file)
    _out(args, message, f"sent #{message['seq']} ({message['id']})")


def _tail(args: argparse.Namespace) -> None:
    client = _client()
    room_id = _room_id(client, args.room)
    printed = 0
    with client.chat() as session:
        session.join(room_id, since_seq=args.since)
        if args.count == 0:
            return
        for event in session.events():
            if event.message is not None:
                _out(args, event.message, _line(event.message))
                printed += 1
                if args.count is not None and printed >= args.count:
                    return


def _upload(args: argparse.Namespace) -> None:
    client = _client()
    uploaded = client.upload(args.file)
    if not args.room:
        _out(args, uploaded, f"uploaded {uploaded['file_name']} ({uploaded['file_id']})")
        return
    message = client.send_message(_room_id(client, args.room), args.text, attachments=[uploaded["file_id"]])
    _out(args, message, f"uploaded {uploaded['file_name']} as #{message['seq']} ({message['id']})")


def _doc_cat(args: argparse.Namespace) -> None:
    document = _client().document(args.id)
    _out(args, document, document["content"])


def _doc_edit(args: argparse.Namespace) -> None:
    client = _client()
    if client.document(args.id)["role"] == "viewer":  # /yjs drops a viewer's change without a word
        raise Forbidden("you may only view this document")
    text = sys.stdin.read()
    with client.open_document(args.id) as session:
        if args.append:
            session.append_text(text)
        else:
            session.replace_text(text)
        session.flush()
    document = client.document(args.id)
    _out(args, {"id": document["id"], "version": document["version"]}, f"saved version {document['version']}")
