"""A small Sieve text emitter: quoting, string lists, indentation, comments.

sievelib parses and checks scripts, but building its command objects is
clumsier than writing text for the shapes we need (comments at every
statement, ``elsif``-free nesting).  Correct quoting is the whole risk, so it
lives in one place; every script is re-parsed with sievelib before it is
returned (see ``translate``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


def quote(s: str) -> str:
    """A Sieve quoted string (RFC 5228 2.4.2): only ``\\`` and ``"`` need escaping."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def string_list(items: list[str] | tuple[str, ...]) -> str:
    """One string, or a bracketed list when there are several."""
    if len(items) == 1:
        return quote(items[0])
    return "[" + ", ".join(quote(s) for s in items) + "]"


def all_of(tests: list[str]) -> str:
    """One Sieve test that holds when every one of ``tests`` does (one alone as it is)."""
    return tests[0] if len(tests) == 1 else "allof (" + ", ".join(tests) + ")"


def comment(text: str) -> str:
    """A ``#`` comment line; control characters are made visible so they cannot break lines."""
    clean = "".join(ch if ch.isprintable() or ch == "\t" else "?" for ch in text)
    return "# " + clean


@dataclass
class Script:
    """Sieve statements under construction, with the extensions they need."""

    lines: list[str] = field(default_factory=list)
    requires: set[str] = field(default_factory=set)
    depth: int = 0

    def add(self, line: str) -> None:
        """Add one statement (or comment) at the current indentation."""
        self.lines.append("    " * self.depth + line)

    def note(self, text: str) -> None:
        """Add a comment, one line per line of ``text``."""
        for part in text.splitlines() or [""]:
            self.add(comment(part))

    def open(self, head: str) -> None:
        """Open a block: ``head {``."""
        self.add(head + " {")
        self.depth += 1

    def close(self) -> None:
        """Close the innermost block."""
        self.depth -= 1
        self.add("}")

    def text(self) -> str:
        """The whole script, ``require`` first."""
        out = []
        if self.requires:
            out.append(f"require {string_list(sorted(self.requires))};")
        out.extend(self.lines)
        return "\n".join(out) + "\n"
