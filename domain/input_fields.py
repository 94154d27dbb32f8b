"""Client text and numbers that every layer can hold: the marshmallow fields of REST bodies and /ws frames.

JSON admits strings no database or encoder accepts: ``"\\u0000"`` (PostgreSQL refuses NUL in text) and
lone surrogates such as ``"\\ud800"`` (valid JSON escapes, but not Unicode scalar values: UTF-8 cannot
encode them). Control characters are refused too: they have no business in names or messages and
forge lines wherever text is shown raw. Tab and line feed are text. Carriage return is accepted as
well: clients on Windows and many HTTP tools send CRLF line ends, it is harmless to both databases,
and log lines escape it anyway (``domain.logs``). Integers are bounded to what a signed 64-bit column
holds, so no number reaches a query that the database would refuse.

Every string a schema loads is a ``Text`` (or, in free-form JSON, a ``JsonObject``): the refusal is a
validation error naming the field, answered ``BAD_REQUEST`` like any other.
"""
from __future__ import annotations

import re
from typing import Any

from marshmallow import ValidationError, fields, validate

#: C0 controls but tab, line feed and carriage return; DEL and the C1 controls; every surrogate
#: (a pair is one code point once JSON is decoded, so a surrogate left in a ``str`` is a lone one).
_REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
INT64_MAX = 2 ** 63 - 1
MAX_TREE_DEPTH = 32


def text_problem(value: str) -> str | None:
    """Why ``value`` is not acceptable text, or None when it is."""
    found = _REFUSED.search(value)
    if found is None:
        return None
    code = ord(found.group())
    if 0xD800 <= code <= 0xDFFF:
        return f"contains a lone surrogate (U+{code:04X}) at index {found.start()}: not Unicode text"
    return f"contains the control character U+{code:04X} at index {found.start()}"


def json_problem(value: Any, max_depth: int = MAX_TREE_DEPTH) -> str | None:
    """What is wrong in decoded JSON: the first refused string (key or value), an integer beyond 64 bits,
    or nesting deeper than ``max_depth``; None when nothing is."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, str):
            problem = text_problem(node)
            if problem:
                return problem
        elif isinstance(node, int) and not -INT64_MAX - 1 <= node <= INT64_MAX:
            return "holds an integer beyond 64 bits"
        elif isinstance(node, (dict, list)):
            if depth >= max_depth:
                return f"nested deeper than {max_depth} levels"
            items = [*node.keys(), *node.values()] if isinstance(node, dict) else node
            pending.extend((item, depth + 1) for item in items)
    return None


class _TextRules:
    """Mixed into a string field: what it loads must pass ``text_problem``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)  # type: ignore[misc]
        problem = text_problem(text)
        if problem:
            raise ValidationError(problem)
        return text


class Text(_TextRules, fields.String):
    """A string that is Unicode text without control characters (tab, LF and CR allowed)."""


class TextEmail(_TextRules, fields.Email):
    """An e-mail address held to the rules of ``Text``."""


def _valid_json(value: Any) -> None:
    problem = json_problem(value)
    if problem:
        raise ValidationError(problem)


class JsonObject(fields.Dict):
    """A free-form JSON object held to ``json_problem``: text keys and strings, 64-bit integers, at most
    ``MAX_TREE_DEPTH`` levels."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators.append(_valid_json)


class Int64(fields.Integer):
    """An integer from ``minimum`` up to what a signed 64-bit column holds."""

    def __init__(self, *, minimum: int = -INT64_MAX - 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators.insert(0, validate.Range(min=minimum, max=INT64_MAX))
