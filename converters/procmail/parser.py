"""Read a procmailrc into :mod:`syntax` records with a lark grammar.

The parser is total: any text gives an :class:`RcFile` plus findings.  A line
the grammar cannot place is reported (file:line:column) and blanked, and the
parse is retried, so one typo does not hide the rest of a user's filters.
Only input that is plainly not a procmailrc (binary data, or nothing that
parses at all) raises :class:`InputError`.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path

from lark import Lark, Token, Transformer, UnexpectedInput
from lark.exceptions import VisitError

from converters.finding import Finding, InputError

from .syntax import Action, Assignment, Block, Condition, Pos, RcFile, Recipe

#: Recipe flags procmail knows (procmailrc(5) "Flags").
FLAG_LETTERS = frozenset("HBDAaEehbfcwWir")

#: Parse errors after which the file is given up on as not a procmailrc.
MAX_ERRORS = 50

_LEGACY_HEAD = re.compile(r"^(\s*):(\d+)")


@cache
def _lark() -> Lark:
    grammar = resources.files(__package__).joinpath("grammar.lark").read_text()
    return Lark(grammar, parser="lalr", lexer="contextual", propagate_positions=True)


def decode(data: bytes) -> str:
    """rc files are usually ASCII; fall back to Latin-1 so no byte is lost."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _star_legacy_conditions(text: str) -> str:
    """Give the condition lines of legacy ``:N`` recipes their modern ``*``.

    procmail reads at least N lines after ``:N`` as conditions whether or not
    they start with ``*`` (misc.c keeps counting for backward compatibility).
    """
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = _LEGACY_HEAD.match(lines[i])
        count = int(m.group(2)) if m else 0
        i += 1
        while count > 0 and i < len(lines):
            stripped = lines[i].lstrip()
            if stripped and not stripped.startswith("#"):
                if not stripped.startswith("*"):
                    indent = len(lines[i]) - len(stripped)
                    lines[i] = lines[i][:indent] + "*" + stripped
                count -= 1
            i += 1
    return "\n".join(lines)


def _split_head(text: str) -> tuple[str, str | None]:
    """Split ``:0 flags : lock # comment`` into flags and lockfile (None = no lock)."""
    body = re.sub(r"^:\d*", "", text)
    body = re.sub(r"(^|\s)#.*$", "", body)
    if ":" in body and "${" not in body.split(":", 1)[0]:
        flags, lock = body.split(":", 1)
        return flags.strip(), lock.strip()
    return body.strip(), None


class _ToRecords(Transformer):
    """lark tree -> frozen records with positions."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def _pos(self, tok: Token) -> Pos:
        return Pos(self.path, tok.line or 0, tok.column or 0)

    def start(self, items):
        return tuple(items)

    def assignment(self, children):
        (tok,) = children
        name, value = tok.split("=", 1)
        return Assignment(name.strip(), value.strip(" \t"), "value", self._pos(tok), str(tok))

    def pipe_assignment(self, children):
        (tok,) = children
        name, value = tok.split("=", 1)
        cmd = value.strip(" \t")[1:]
        return Assignment(name.strip(), cmd.strip(), "pipe", self._pos(tok), str(tok))

    def unset(self, children):
        (tok,) = children
        return Assignment(str(tok), "", "unset", self._pos(tok), str(tok))

    def condition(self, children):
        (tok,) = children
        # Continued lines lose their leading whitespace (except in $ conditions).
        text = str(tok)[1:]
        keep_ws = text.strip().startswith("$")
        parts = re.split(r"\\\n", text)
        if not keep_ws:
            parts = [parts[0]] + [p.lstrip(" \t") for p in parts[1:]]
        return Condition("".join(parts).strip(" \t"), self._pos(tok))

    def action(self, children):
        (tok,) = children
        return Action(str(tok).rstrip(), self._pos(tok))

    def block(self, children):
        lbrace, *items, _rbrace = children
        return Block(tuple(items), self._pos(lbrace))

    def recipe(self, children):
        head, *rest = children
        action = rest[-1]
        conditions = tuple(rest[:-1])
        flags, lock = _split_head(str(head))
        good = "".join(c for c in flags if c in FLAG_LETTERS)
        bad = "".join(c for c in flags if c not in FLAG_LETTERS and not c.isspace())
        end = action.pos.line + str(getattr(action, "text", "")).count("\n")
        if isinstance(action, Block):
            end = _block_end(action)
        return Recipe(good, lock, conditions, action, self._pos(head), end, str(head), bad)


def _open_blocks(lines: list[str]) -> int:
    """How many more blocks the lines open (``{`` as an action) than they close.

    Only these are closed at the end of the file; a file that merely ends
    early (``:0`` and a condition, no action) stays a syntax error, as
    procmail's "Incomplete recipe" is.
    """
    opened = sum(ln.strip().startswith("{") and not ln.strip().endswith("}") for ln in lines)
    closed = sum(ln.strip().startswith("}") for ln in lines)
    return opened - closed


def _block_end(block: Block) -> int:
    last = block.pos.line
    for item in block.items:
        last = max(last, item.end_line if isinstance(item, Recipe) else item.pos.line)
    return last + 1


def parse_text(text: str, path: str, findings: list[Finding]) -> RcFile:
    """Parse rc text; append findings for CRLF endings and unparsable lines."""
    crlf = "\r\n" in text
    if crlf:
        findings.append(Finding(
            "warning", path, None, "", "the file has CRLF line endings; procmail reads the "
            "CR as part of folder names and patterns, so the old filter may never have "
            "worked as written",
            "the translation reads it as if it had Unix line endings; check the result",
            code="procmail-crlf"))
        text = text.replace("\r\n", "\n")
    text = _star_legacy_conditions(text)
    lines = text.split("\n")
    errors: list[int] = []
    unclosed = 0
    parsed_ok_once = False
    while True:
        try:
            tree = _lark().parse("\n".join(lines) + "\n")
            break
        except UnexpectedInput as exc:
            token = getattr(exc, "token", None)
            if getattr(token, "type", "") == "$END" and unclosed < _open_blocks(lines):
                # a block still open at the end of the file: procmail closes it there
                if not unclosed:
                    findings.append(Finding(
                        "warning", path, len(lines), "", "a block ({) is not closed before "
                        "the end of the file; procmail ends it there, and so does the "
                        "translation", "add the missing '}' where the block should end",
                        code="procmail-syntax"))
                lines.append("}")
                unclosed += 1
                continue
            line = max(1, min(getattr(exc, "line", 1) or 1, len(lines)))
            column = getattr(exc, "column", 1) or 1
            if line in errors or len(errors) >= MAX_ERRORS:
                raise InputError(path, line, "too many syntax errors: not a procmailrc?",
                                 column) from None
            if line > 1 and any(ln.strip() for ln in lines[: line - 1]):
                parsed_ok_once = True
            findings.append(Finding(
                "warning", path, line, lines[line - 1],
                f"syntax error at column {column}: procmail would misread this line; "
                "it was ignored, and any recipe containing it is not translated",
                "fix the line in the old file or write the rule by hand",
                code="procmail-syntax", subject=f"{path}:{line}:{column}"))
            errors.append(line)
            lines[line - 1] = ""
    try:
        items = _ToRecords(path).transform(tree)
    except (RecursionError, VisitError) as exc:
        if not isinstance(getattr(exc, "orig_exc", exc), RecursionError):
            raise
        # The transformer recurses once per nested block; Python's stack ends
        # a few hundred levels down.  No real filter nests that deep.
        raise InputError(path, None, "blocks nested too deeply ({ inside { hundreds of "
                         "levels down): not translated") from None
    if errors and not items and not parsed_ok_once:
        raise InputError(path, errors[0], "not a procmailrc: nothing in it parses")
    return RcFile(path, items, frozenset(errors), crlf)


def parse_file(path: Path, findings: list[Finding], name: str | None = None) -> RcFile:
    """Parse one rc file from disk.  ``name`` is how findings name it (defaults to the path)."""
    label = name or str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(label, None, f"cannot read: {exc.strerror}") from None
    if b"\0" in data:
        raise InputError(label, None, "binary data (NUL bytes): not a procmailrc")
    return parse_text(decode(data), label, findings)
