"""The parsed form of a procmailrc: frozen records that remember where they came from.

Every record carries a :class:`Pos` so a finding or a Sieve comment can name
the exact source line an admin has to look at.  Values are kept as raw text
(quotes, ``$VAR`` references) because their meaning depends on the variables
in force when procmail reaches them, which only the translator knows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pos:
    """A place in an rc file (1-based line and column)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Assignment:
    """``NAME=value`` ("value"), ``NAME=|cmd`` ("pipe") or a bare ``NAME`` ("unset")."""

    name: str
    value: str
    kind: str
    pos: Pos
    text: str


@dataclass(frozen=True)
class Condition:
    """One ``*`` line, with continuations joined and the ``*`` removed."""

    text: str
    pos: Pos


@dataclass(frozen=True)
class Action:
    """A recipe's action line (folder names, ``! addresses`` or ``| command``)."""

    text: str
    pos: Pos


@dataclass(frozen=True)
class Block:
    """A nested ``{ ... }`` block used as a recipe's action."""

    items: tuple[Item, ...]
    pos: Pos


@dataclass(frozen=True)
class Recipe:
    """``:0 [flags] [: [lockfile]]``, its conditions and its action.

    ``lock`` is None without a ``:``, "" for the implicit lockfile, else the
    named lockfile.  ``end_line`` is the last source line of the recipe, so
    parse errors inside it can be tied to it.
    """

    flags: str
    lock: str | None
    conditions: tuple[Condition, ...]
    action: Action | Block
    pos: Pos
    end_line: int
    text: str
    bad_flags: str = ""


Item = Assignment | Recipe


@dataclass(frozen=True)
class RcFile:
    """A parsed rc file: its items plus the lines that could not be parsed."""

    path: str
    items: tuple[Item, ...]
    error_lines: frozenset[int]
    crlf: bool = False
