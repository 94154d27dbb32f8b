"""Full-text search over chat messages: the index (migration 5) and the ranked, access-checked query.

SQLite: an FTS5 external-content table over ``message`` keyed by its implicit rowid and kept in step
by triggers, so the chat writer's group commit indexes every send, edit and delete in its own
transaction with no Python change. PostgreSQL: a generated ``tsvector`` column with a GIN index.
Either way a hit is joined to the caller's membership rows: the rule the history route applies
(``require_member``), so a room they cannot read, or have left, never contributes a message.

Query syntax (both engines): words must all match, in any order, case-insensitive; ``"a phrase"``
matches those words in a row; ``-word`` or ``-"a phrase"`` excludes; the last word also matches as
a prefix. The user's text is never passed to the engine's query parser as syntax: each term is a
quoted FTS5 string or goes through ``phraseto_tsquery``, so no input can make the engine fail.

On SQLite the ranked match runs on a worker thread with a read-only connection of its own (WAL lets it
read beside the writer): ``sqlite3`` blocks the gevent hub for a whole statement, and a common word in a
large history takes tens of milliseconds, which every socket of the process would otherwise wait out.
"""
from __future__ import annotations

import html
import logging
import re
import sqlite3
from dataclasses import dataclass
from typing import Any, Callable

import peewee

from domain import logs
from domain.errors import BadRequest
from storage.chat import require_member
from storage.chat_messages import message_dicts
from storage.models import Message, Room
from storage.db import database, engine_name, reading, unit_of_work

log = logging.getLogger("confab.search")

# The snippet's match markers, chosen from Unicode's private use area so the text around them can be
# HTML-escaped before they become <mark> tags.
_OPEN, _CLOSE = "\ue000", "\ue001"
SNIPPET_TOKENS = 24

_SQLITE_INDEX = (
    "CREATE VIRTUAL TABLE message_fts USING fts5(content, content='message', content_rowid='rowid', "
    "tokenize='unicode61 remove_diacritics 2')",
    # The old row is removed with exactly the values it was indexed with, as FTS5 external content requires.
    "CREATE TRIGGER message_fts_insert AFTER INSERT ON message BEGIN "
    "INSERT INTO message_fts(rowid, content) VALUES (new.rowid, new.content); END",
    "CREATE TRIGGER message_fts_delete AFTER DELETE ON message BEGIN "
    "INSERT INTO message_fts(message_fts, rowid, content) VALUES ('delete', old.rowid, old.content); END",
    "CREATE TRIGGER message_fts_update AFTER UPDATE OF content ON message BEGIN "
    "INSERT INTO message_fts(message_fts, rowid, content) VALUES ('delete', old.rowid, old.content); "
    "INSERT INTO message_fts(rowid, content) VALUES (new.rowid, new.content); END",
    "INSERT INTO message_fts(message_fts) VALUES ('rebuild')",  # index the messages already stored
)

_POSTGRES_INDEX = (
    # A stored generated column: adding it computes it for every existing row.
    "ALTER TABLE message ADD COLUMN search_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, content)) STORED",
    "CREATE INDEX message_search_vector ON message USING GIN (search_vector)",
)


def create_index(db: peewee.Database) -> None:
    """Migration 5: the full-text index over ``message`` for the database's engine."""
    for statement in _POSTGRES_INDEX if engine_name(db) == "postgresql" else _SQLITE_INDEX:
        db.execute_sql(statement)


# --- the user's query ----------------------------------------------------------------------------------

_ITEM = re.compile(r'(-?)(?:"([^"]*)"?|(\S+))')
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Term:
    text: str
    phrase: bool  # quoted by the user (never a prefix)


@dataclass(frozen=True)
class SearchQuery:
    include: tuple[Term, ...]
    exclude: tuple[Term, ...]

    @property
    def prefix(self) -> str | None:
        """The last included term when it is a bare word: it also matches as a prefix."""
        last = self.include[-1]
        return last.text if not last.phrase and _WORD.fullmatch(last.text) else None


def parse_query(text: str) -> SearchQuery:
    """Words, ``"phrases"`` and ``-exclusions``; terms without a letter or digit are dropped."""
    include: list[Term] = []
    exclude: list[Term] = []
    for match in _ITEM.finditer(text.replace("\x00", " ")):  # PostgreSQL text cannot hold NUL
        negated, quoted, bare = match.group(1), match.group(2), match.group(3)
        term = Term(quoted if quoted is not None else bare, quoted is not None)
        if _WORD.search(term.text):
            (exclude if negated else include).append(term)
    if not include:
        logs.event(log, "search.refused", reason="no words to search for", length=len(text))
        raise BadRequest("nothing to search for", {"fields": {"q": ["needs at least one word to find"]}})
    return SearchQuery(tuple(include), tuple(exclude))


def _fts5_expression(query: SearchQuery) -> str:
    """An FTS5 MATCH expression in which every term is a quoted string (data, never syntax)."""
    def quoted(term: Term) -> str:
        return '"' + term.text.replace('"', '""') + '"'

    parts = [quoted(t) for t in query.include]
    if query.prefix is not None:
        parts[-1] += "*"
    expression = "(" + " ".join(parts) + ")"
    for term in query.exclude:
        expression += " NOT " + quoted(term)
    return expression


def _tsquery_expression(query: SearchQuery) -> tuple[str, list[str]]:
    """A PostgreSQL tsquery expression and its parameters; the user's text only ever goes through
    ``phraseto_tsquery``, except the prefix word, which is letters and digits only."""
    parts, params = [], []
    for index, term in enumerate(query.include):
        if index == len(query.include) - 1 and query.prefix is not None:
            parts.append("to_tsquery('simple', %s)")
            params.append(f"'{query.prefix}':*")
        else:
            parts.append("phraseto_tsquery('simple', %s)")
            params.append(term.text)
    for term in query.exclude:
        parts.append("!! phraseto_tsquery('simple', %s)")
        params.append(term.text)
    return " && ".join(parts), params


# --- the search ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Hit:
    message_id: str
    rank: float  # higher is better
    snippet: str


def search_messages(user_id: str, text: str, *, room_id: str | None = None, limit: int = 50,
                    after: tuple[float, str] | None = None,
                    run_blocking: Callable[..., Any]) -> tuple[list[dict[str, Any]], tuple[float, str] | None]:
    """Best match first (ties by message id) among the rooms ``user_id`` is a member of (only
    ``room_id`` when given: NOT_FOUND / FORBIDDEN exactly as its history would answer). On SQLite the
    ranked match runs through ``run_blocking`` (an OS thread).

    ``after`` and the position returned after the page's last hit (``None`` on the last page) are
    (rank, message id).
    """
    query = parse_query(text)
    if room_id is not None:
        with unit_of_work():
            require_member(room_id, user_id)
    if engine_name() == "postgresql":  # psycopg waits cooperatively
        with reading():
            hits = _postgres_hits(query, user_id, room_id, after, limit + 1)
    else:
        hits = _sqlite_hits(query, user_id, room_id, after, limit + 1, run_blocking)
    more, hits = len(hits) > limit, hits[:limit]
    with unit_of_work():
        items = _hydrate(hits)  # a hit deleted meanwhile is left out
    return items, ((hits[-1].rank, hits[-1].message_id) if more else None)


def _sqlite_hits(query: SearchQuery, user_id: str, room_id: str | None, position: tuple[float, str] | None,
                 limit: int, run_blocking: Callable[..., Any]) -> list[Hit]:
    expression = _fts5_expression(query)
    inner, params = ("SELECT m.id AS id, -bm25(message_fts) AS rank FROM message_fts "
                     "JOIN message AS m ON m.rowid = message_fts.rowid "
                     "JOIN room_member AS rm ON rm.room_id = m.room_id AND rm.user_id = ? "
                     "WHERE message_fts MATCH ? AND m.is_deleted = 0"), [user_id, expression]
    if room_id is not None:
        inner, params = inner + " AND m.room_id = ?", [*params, room_id]
    sql, params = _ranked_page(inner, params, position, limit, "?")
    return run_blocking(_sqlite_read, database.obj.database, sql, params, expression)


_readers: dict[str, list[sqlite3.Connection]] = {}  # database path → idle read-only connections


def _sqlite_read(path: str, sql: str, params: list[Any], expression: str) -> list[Hit]:
    """On a worker thread: the page of hits, then the snippets of just those."""
    idle = _readers.setdefault(path, [])
    conn = idle.pop() if idle else sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5,
                                                   check_same_thread=False)
    try:
        rows = conn.execute(sql, params).fetchall()
        if not rows:
            return []
        marks = ", ".join("?" for _ in rows)
        snippets = dict(conn.execute(
            f"SELECT m.id, snippet(message_fts, 0, ?, ?, '…', ?) FROM message_fts "
            f"JOIN message AS m ON m.rowid = message_fts.rowid WHERE message_fts MATCH ? AND m.id IN ({marks})",
            [_OPEN, _CLOSE, SNIPPET_TOKENS, expression, *(row[0] for row in rows)]).fetchall())
        return [Hit(message_id, rank, snippets.get(message_id, "")) for message_id, rank in rows]
    finally:
        idle.append(conn)


def _postgres_hits(query: SearchQuery, user_id: str, room_id: str | None, position: tuple[float, str] | None,
                   limit: int) -> list[Hit]:
    tsquery, query_params = _tsquery_expression(query)
    # float8: the rank must survive the round trip through the cursor exactly (float4's text does not).
    inner = ("SELECT m.id AS id, m.content AS content, q, ts_rank(m.search_vector, q, 1)::float8 AS rank "
             f"FROM message AS m CROSS JOIN (SELECT {tsquery} AS q) AS query "
             "JOIN room_member AS rm ON rm.room_id = m.room_id AND rm.user_id = %s "
             "WHERE m.search_vector @@ q AND NOT m.is_deleted")
    params: list[Any] = [*query_params, user_id]
    if room_id is not None:
        inner, params = inner + " AND m.room_id = %s", [*params, room_id]
    page, params = _ranked_page(inner, params, position, limit, "%s", columns="id, rank, content, q")
    options = (f'StartSel="{_OPEN}", StopSel="{_CLOSE}", MaxWords={SNIPPET_TOKENS}, MinWords=8, '
               'ShortWord=0, MaxFragments=1, FragmentDelimiter=" … "')
    sql = (f"SELECT id, rank, ts_headline('simple', content, q, %s) FROM ({page}) AS page "
           "ORDER BY rank DESC, id")  # the headline only for the rows of the page
    rows = Message._meta.database.execute_sql(sql, [options, *params]).fetchall()
    return [Hit(message_id, rank, snippet) for message_id, rank, snippet in rows]


def _ranked_page(inner: str, params: list[Any], position: tuple[float, str] | None, limit: int, mark: str,
                 columns: str = "id, rank") -> tuple[str, list[Any]]:
    """``inner``'s rows after ``position`` in (rank descending, id) order, at most ``limit``."""
    sql = f"SELECT {columns} FROM ({inner}) AS hits"
    if position is not None:
        sql += f" WHERE rank < {mark} OR (rank = {mark} AND id > {mark})"
        params = [*params, position[0], position[0], position[1]]
    return sql + f" ORDER BY rank DESC, id LIMIT {mark}", [*params, limit]


def _hydrate(hits: list[Hit]) -> list[dict[str, Any]]:
    """Message objects (docs/protocol.md) with their room and an HTML snippet (text escaped, matches in <mark>)."""
    if not hits:
        return []
    found = list(Message.select().where(Message.id.in_([h.message_id for h in hits])
                                        & (Message.is_deleted == False)))  # noqa: E712
    messages = {m["id"]: m for m in message_dicts(found)}
    rooms = {r.id: {"id": r.id, "name": r.name, "kind": r.kind} for r in Room.select(Room.id, Room.name, Room.kind)
             .where(Room.id.in_({m["room_id"] for m in messages.values()}))}
    return [{"message": messages[h.message_id], "room": rooms[messages[h.message_id]["room_id"]],
             "snippet": _html(h.snippet), "rank": h.rank} for h in hits if h.message_id in messages]


def _html(snippet: str) -> str:
    return html.escape(snippet, quote=False).replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>")
