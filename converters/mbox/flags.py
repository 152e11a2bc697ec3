"""IMAP flags and folder keywords from the metadata headers UW c-client and Dovecot write.

``Status: R`` means seen (``O`` only "not new", which IMAP has no flag for);
``X-Status`` letters A, F, D, T are answered, flagged, deleted, draft;
``X-Keywords`` lists keywords.  Cyrus APPEND accepts only atom keywords
("Invalid flag in Append command" otherwise), so anything else is left out
and reported.
"""

from __future__ import annotations

import re

from converters.mbox.splitter import Note

_STATUS = {"R": "\\Seen"}
_X_STATUS = {"A": "\\Answered", "F": "\\Flagged", "D": "\\Deleted", "T": "\\Draft"}
#: Order in which system flags are listed.
SYSTEM_FLAGS = ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft")
#: An IMAP atom (RFC 3501 atom-char: no CTL, space, ``(){%*"\]``) not starting with ``\``.
#: ASCII only: a keyword is sent as an atom, and IMAP4rev1 atoms have no 8-bit bytes.
_ATOM = re.compile(r"[!#$&'+-\[^-z|}~][!#$&'+-\[^-z|}~]*")
_SPLIT = re.compile(r"[\s,]+")


def keyword_list(text: str) -> tuple[list[str], list[str]]:
    """(valid atom keywords, rejected words) of a space- or comma-separated list."""
    good: list[str] = []
    bad: list[str] = []
    for word in _SPLIT.split(text.strip()):
        if not word:
            continue
        target = good if _ATOM.fullmatch(word) else bad
        if word not in target:
            target.append(word)
    return good, bad


def message_flags(metadata: dict[bytes, list[bytes]]) -> tuple[tuple[str, ...], list[Note]]:
    """IMAP flags for one message from its Status/X-Status/X-Keywords values."""
    found: set[str] = set()
    for key, table in ((b"status", _STATUS), (b"x-status", _X_STATUS)):
        for value in metadata.get(key, []):
            found.update(table[c] for c in value.decode("latin-1") if c in table)
    keywords: list[str] = []
    rejected: list[str] = []
    for value in metadata.get(b"x-keywords", []):
        good, bad = keyword_list(value.decode("utf-8", "replace"))
        keywords += [k for k in good if k not in keywords]
        rejected += bad
    notes = []
    if rejected:
        notes.append(Note(
            "mbox-keyword",
            f"X-Keywords {', '.join(repr(w) for w in rejected)} are not IMAP keywords and were "
            "not carried over",
            "set an equivalent keyword by hand if it matters",
        ))
    return tuple(f for f in SYSTEM_FLAGS if f in found) + tuple(keywords), notes


def imap_keywords(value: bytes) -> tuple[str, ...]:
    """Keywords of an ``X-IMAP``/``X-IMAPbase`` value: ``UIDVALIDITY UIDLAST kw kw ...``."""
    words = value.decode("utf-8", "replace").split()
    good, _ = keyword_list(" ".join(words[2:]))
    return tuple(good)
