"""genericstable: outgoing sender rewriting (``user``, ``user@domain`` or ``@domain`` keys).

Parsed into (key, value) with the key form recorded, because Postfix's
generic(5) wants full addresses or ``@domain`` keys and no ``%1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from converters.sendmail.maps import MapEntry

GenericForm = Literal["address", "user", "domain"]


@dataclass(frozen=True)
class GenericEntry:
    """One genericstable entry."""

    key: str
    form: GenericForm
    value: str
    file: str
    line: int
    text: str


def parse_genericstable(entries: tuple[MapEntry, ...]) -> tuple[GenericEntry, ...]:
    """Typed entries; every makemap line is a valid generics entry."""
    out: list[GenericEntry] = []
    for e in entries:
        form: GenericForm = "user"
        if e.key.startswith("@"):
            form = "domain"
        elif "@" in e.key:
            form = "address"
        out.append(GenericEntry(e.key, form, e.value, e.file, e.line, e.text))
    return tuple(out)
