"""Every JSON request body of the API is read here first, strictly, before any schema sees it.

- not JSON at all (or not UTF-8) → 400 ``malformed_json``;
- nested deeper than :data:`MAX_DEPTH` levels, a key repeated in one object, a lone surrogate or a
  NUL in any text, a number no column can hold → 422 with the message under the field's path.

Python's parser would take a repeated key silently (the last wins), and keep ``"\\ud800"`` as a
string no database or encoder accepts; a body nested a thousand deep would end in a
RecursionError. One check here covers every operation and every text field.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Response, request

from opsadmin.api.errors import is_api_request, problem

MAX_DEPTH = 64
MAX_INTEGER = 2**63 - 1  # the widest integer column (PostgreSQL bigint, SQLite INTEGER)
MAX_ERRORS = 20
BODY_METHODS = ("POST", "PUT", "PATCH")
_BAD_TEXT = re.compile("[\ud800-\udfff\x00]")


class _Duplicates(dict):
    """An object whose keys repeated, remembering which."""

    duplicates: tuple[str, ...] = ()


class _OutOfRange:
    """Stands in for a number beyond what any field accepts (its path is reported)."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) == len(pairs):
        return value
    seen: set[str] = set()
    marked = _Duplicates(value)
    marked.duplicates = tuple({k for k, _ in pairs if k in seen or seen.add(k)})
    return marked


def _integer(text: str) -> int | _OutOfRange:
    # Checked on the text: Python refuses to convert more than 4300 digits (a ValueError).
    if len(text.lstrip("-")) > 19 or abs(int(text)) > MAX_INTEGER:
        return _OutOfRange()
    return int(text)


def _number(text: str) -> float | _OutOfRange:
    value = float(text)
    return _OutOfRange() if value in (float("inf"), float("-inf")) else value


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def parse(body: bytes) -> Any:
    """The body as Python values; ValueError when it is not JSON, RecursionError when too deep."""
    return json.loads(
        body.decode("utf-8"),
        object_pairs_hook=_object,
        parse_int=_integer,
        parse_float=_number,
        parse_constant=_refuse_constant,
    )


def _text_problem(text: str) -> str | None:
    found = _BAD_TEXT.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "Contains a NUL character."
    return "Contains a lone surrogate (an unpaired \\uD800-\\uDFFF escape), which is not text."


class _Errors:
    """Messages nested by path, as marshmallow reports them."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}
        self.count = 0

    def add(self, path: tuple[Any, ...], message: str) -> None:
        self.count += 1
        node = self.tree
        keys = [str(part) for part in path] or ["_schema"]
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                return
            node = child
        messages = node.setdefault(keys[-1], [])
        if isinstance(messages, list) and message not in messages:
            messages.append(message)


def _children(value: Any, path: tuple[Any, ...], errors: _Errors) -> list[tuple[Any, tuple]]:
    if isinstance(value, list):
        return [(item, (*path, index)) for index, item in enumerate(value)]
    for key in getattr(value, "duplicates", ()):
        errors.add((*path, key), "Appears more than once in the same object.")
    children = []
    for key, item in value.items():
        if _text_problem(key):
            errors.add(path, f"A key: {_text_problem(key)}")
        children.append((item, (*path, key)))
    return children


def find_problems(value: Any) -> dict[str, Any]:
    """Per-field messages for everything in ``value`` that no operation may accept."""
    errors = _Errors()
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack and errors.count < MAX_ERRORS:
        item, path = stack.pop()
        if isinstance(item, dict | list):
            if len(path) >= MAX_DEPTH:
                errors.add(path[:1], f"Nested deeper than {MAX_DEPTH} levels.")
                continue
            stack.extend(_children(item, path, errors))
        elif isinstance(item, str) and _text_problem(item):
            errors.add(path, _text_problem(item))
        elif isinstance(item, _OutOfRange):
            errors.add(path, "Out of range.")
    return errors.tree


def check_json_body() -> Response | None:
    """``before_request``: refuse an API body that is not strict JSON (see the module's text)."""
    if request.method not in BODY_METHODS or not is_api_request() or not request.is_json:
        return None
    body = request.get_data(cache=True)
    if not body.strip():
        return None  # no body: the operation's schema says what is required
    try:
        value = parse(body)
    except RecursionError:
        errors: dict[str, Any] = {"_schema": [f"Nested deeper than {MAX_DEPTH} levels."]}
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return problem(400, f"The body is not valid JSON: {error}", code="malformed_json")
    else:
        errors = find_problems(value)
    if not errors:
        return None
    return problem(422, "The request is invalid: see errors for each field.", errors=errors)
