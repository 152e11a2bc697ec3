"""The one record of "something a person should look at", shared by every converter.

Every converter, the copy engine and the reports speak in Findings, so a dry-run
report can list procmail rules, alias entries and odd mbox messages in one
table, and ``--json`` has one shape for all of them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["info", "warning", "error"]

#: Severities that mean a person must act before the domain is cut over.
NEEDS_PERSON: frozenset[str] = frozenset({"warning", "error"})


@dataclass(frozen=True)
class Finding:
    """One thing that was not carried over exactly, with where it came from.

    ``text`` is the original source text (a recipe, a table line, a message's
    From_ line) so an admin can find it without opening the file; ``suggestion``
    says what to do by hand.  ``info`` findings record a deliberate, safe
    change (a dropped spamc pipe, a normalised line ending); ``warning`` and
    ``error`` findings need a person.
    """

    severity: Severity
    file: str
    line: int | None
    text: str
    reason: str
    suggestion: str = ""
    code: str = ""
    subject: str = ""

    @property
    def needs_person(self) -> bool:
        """True when the migration must not go ahead without a human decision."""
        return self.severity in NEEDS_PERSON

    def where(self) -> str:
        """``file:line`` (or just ``file``) as compilers print it."""
        return f"{self.file}:{self.line}" if self.line else self.file

    def to_dict(self) -> dict[str, object]:
        """The JSON shape used by every ``--json`` output."""
        return asdict(self)

    def render(self, indent: str = "", max_text_lines: int | None = None) -> str:
        """``file:line: severity: reason``, the original text and the fix.

        ``max_text_lines`` shortens a long quoted text (a whole block) with a
        line saying how much was left out; a fix that spans lines (a Sieve
        command with its message) keeps its own lines, indented.
        """
        out = [f"{indent}{self.where()}: {self.severity}: {self.reason}"]
        text = self.text.strip().splitlines()
        shown = text if max_text_lines is None else text[:max_text_lines]
        out += [f"{indent}    | {ln}" for ln in shown]
        if len(shown) < len(text):
            out.append(f"{indent}    | ... ({len(text) - len(shown)} more lines)")
        if self.suggestion:
            first, *rest = self.suggestion.splitlines()
            out.append(f"{indent}    -> {first}")
            out += [f"{indent}       {ln}".rstrip() for ln in rest]
        return "\n".join(out)


class InputError(Exception):
    """Input that cannot be used at all; the message names file and line.

    Raised instead of a traceback for unusable input (exit status 2).
    Recoverable oddities are Findings, not InputErrors.
    """

    def __init__(self, file: str, line: int | None, message: str, column: int | None = None):
        self.file = file
        self.line = line
        self.column = column
        self.message = message
        pos = file
        if line:
            pos += f":{line}"
            if column:
                pos += f":{column}"
        super().__init__(f"{pos}: {message}")
