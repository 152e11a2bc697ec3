"""Reading an mbox file as a stream of messages ready for Cyrus APPEND.

Python's ``mailbox.mbox`` is not used: it loads a table of every message,
splits at any line starting ``From ``, ignores Content-Length, and silently
drops bytes before the first From_ line.  This reader keeps at most one
message in memory, and every message whose bytes differ from the file beyond
line ends carries a Finding saying why.

Output policy (what ``MboxMessage.data`` is):

* the From_ line is not part of the message; line ends are CRLF;
* c-client metadata headers are removed and become ``flags``;
* ``>From`` quoting is left as is unless ``unescape_mboxrd`` is set;
* NUL bytes (which Cyrus rejects anywhere) are removed;
* 8-bit header text is RFC 2047-encoded, invalid header lines are kept or end
  the header section, see ``headers``;
* a message with no bytes at all becomes an empty header section (CRLF);
* the UW IMAP "FOLDER INTERNAL DATA" message is not emitted; its keywords are
  given by ``folder_keywords`` and the first emitted message notes it.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import BinaryIO

from converters.finding import Finding, InputError
from converters.mbox.dates import internal_date
from converters.mbox.flags import imap_keywords, message_flags
from converters.mbox.fromline import is_separator
from converters.mbox.headers import clean_header
from converters.mbox.lineends import crlf
from converters.mbox.splitter import Note, RawMessage, split_messages

PSEUDO_SUBJECT = b"FOLDER INTERNAL DATA"
_MBOXRD_QUOTED = re.compile(rb"^>(>*From )", re.MULTILINE)
_HEADER_END = re.compile(rb"\r?\n\r?\n")
#: The splitter takes body lines a buffer at a time; 256 KiB makes that cheap.
READ_BUFFER = 1 << 18


@dataclass(frozen=True)
class MboxMessage:
    """One message of an mbox file, as it will be appended, with where it came from."""

    index: int              # 0-based position among emitted messages (from ``start``)
    offset: int             # byte offset of the From_ line (or of the junk) in the file
    length: int             # bytes in the file including the From_ line
    line: int               # 1-based line number of the From_ line
    from_line: bytes        # without its line end; b"" for bytes before the first From_ line
    data: bytes             # what to APPEND
    sha1: str               # hex SHA-1 of data (Cyrus DIGEST.SHA1 must equal it)
    flags: tuple[str, ...]
    internaldate: datetime  # tz-aware
    findings: tuple[Finding, ...]


def _split_header(content: bytes) -> tuple[bytes, bool, int]:
    """(header section with its line ends, whether an empty line ends it, body start)."""
    if content[:1] == b"\n" or content[:2] == b"\r\n":
        return b"", True, content.index(b"\n") + 1
    match = _HEADER_END.search(content)
    if match is None:
        return content, False, len(content)
    cut = content.index(b"\n", match.start()) + 1
    return content[:cut], True, match.end()


@dataclass
class _Built:
    """A message after the Cyrus policies, before it becomes an MboxMessage."""

    data: bytes
    flags: tuple[str, ...]
    first: dict[bytes, bytes]
    metadata: dict[bytes, list[bytes]]
    notes: list[Note]


def _build(raw: RawMessage, unescape_mboxrd: bool) -> _Built:
    """Apply the output policy to one raw message; ``raw.content`` is released."""
    content: bytes | bytearray = raw.content  # kept a bytearray: body bytes are copied once
    raw.content = bytearray()
    notes = list(raw.notes)
    if raw.junk:
        notes.append(Note(
            "mbox-junk",
            f"{raw.length} bytes before the first From_ line are not an mbox message; "
            "they are copied as a message of their own", "check it and delete it if it is junk",
            severity="warning",
        ))
    if unescape_mboxrd:
        content, count = _MBOXRD_QUOTED.subn(rb"\1", content)
        if count:
            notes.append(Note("mbox-mboxrd", f"{count} '>From ' lines were unquoted (mboxrd)"))
    nuls = content.count(b"\0") if b"\0" in content else 0  # ``in`` is a fast scan, count is not
    if nuls:
        content = content.replace(b"\0", b"")
        notes.append(Note("mbox-nul", f"{nuls} NUL bytes were removed (Cyrus rejects them)"))
    if not content:
        notes.append(Note("mbox-empty", "the message is empty; it is copied as an empty header"))
        return _Built(b"\r\n", (), {}, {}, notes)
    section, has_end, body_start = _split_header(content)
    head = clean_header(bytes(section), has_end)
    notes += head.notes
    flags, flag_notes = message_flags(head.metadata)
    notes += flag_notes
    parts = [head.header]
    if head.has_end:
        parts.append(b"\r\n")
    if head.rest:
        parts.append(head.rest)
        if has_end:
            parts.append(b"\r\n")
    if isinstance(content, bytearray):
        del content[:body_start]  # in place: no second copy of the body
        parts.append(crlf(content))
    else:
        parts.append(crlf(content[body_start:]))
    del content
    return _Built(b"".join(parts), flags, head.first, head.metadata, notes)


def _is_pseudo(raw: RawMessage, built: _Built) -> bool:
    """The UW c-client folder bookkeeping message: first in the file, with c-client's
    subject ("DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA") and an X-IMAP header
    or MAILER-DAEMON as sender.  Either sign alone is not enough: a real first message
    may carry X-IMAP (c-client's header, hidden from it, not the message) or be a
    bounce quoting that subject, and a message wrongly taken for it would be lost."""
    if raw.offset != 0 or raw.junk or raw.stamp is None:
        return False
    return PSEUDO_SUBJECT in built.first.get(b"subject", b"") and (
        b"x-imap" in built.metadata or raw.stamp.sender == b"MAILER-DAEMON")


def _finding(display: str, raw: RawMessage, note: Note) -> Finding:
    """The shared Finding for a note on one message, located by its From_ line."""
    return Finding(
        severity=note.severity,
        file=display,
        line=raw.line,
        text=raw.from_line.decode("utf-8", "replace"),
        reason=note.reason,
        suggestion=note.suggestion,
        code=note.code,
    )


def _open_at(path: Path, start: int, display: str) -> tuple[BinaryIO, int, int]:
    """Open the file and find the line number of ``start``, checking it is a line start."""
    f = open(path, "rb", buffering=READ_BUFFER)  # noqa: SIM115 - closed by read_mbox
    size = os.fstat(f.fileno()).st_size
    if start < 0 or start > size:
        f.close()
        raise InputError(display, None, f"resume offset {start} is outside the file")
    lines = 1
    if start:
        f.seek(start - 1)
        if f.read(1) != b"\n":
            f.close()
            raise InputError(display, None, f"resume offset {start} is not at a line start")
        if not is_separator(f.readline()):
            f.close()
            raise InputError(display, None, f"resume offset {start} is not a From_ line")
        f.seek(0)
        left = start
        while left:
            chunk = f.read(min(left, 1 << 20))
            lines += chunk.count(b"\n")
            left -= len(chunk)
    return f, size, lines


def read_mbox(path: Path, *, start: int = 0, unescape_mboxrd: bool = False,
              default_tz: tzinfo = UTC,
              display_name: str | None = None) -> Iterator[MboxMessage]:
    """Yield the messages of the mbox at ``path``, one at a time.

    ``start`` = byte offset to resume from (0 or a separator offset returned
    earlier; anything else raises InputError); ``index`` then counts from 0
    again.  ``default_tz`` is the zone of From_ dates that carry none (the old
    server's local zone); the first such message notes the assumption once.
    ``display_name`` is the path used in findings, default ``str(path)``.
    """
    display = display_name or str(path)
    f, size, first_line = _open_at(Path(path), start, display)
    with f:
        mtime = os.fstat(f.fileno()).st_mtime
        carried: list[Note] = []
        assumed_zone_noted = False
        index = 0
        for raw in split_messages(f, start=start, first_line=first_line, size=size):
            built = _build(raw, unescape_mboxrd)
            if index == 0 and _is_pseudo(raw, built):
                words = imap_keywords(built.metadata.get(b"x-imap", [b""])[0])
                carried.append(Note(
                    "mbox-pseudo",
                    f"the UW IMAP folder data message at line {raw.line} was not copied "
                    f"(folder keywords: {' '.join(words) or 'none'})"))
                continue
            when, date_notes = internal_date(raw.stamp, built.first, default_tz, mtime)
            if (raw.stamp and raw.stamp.when and raw.stamp.zone is None
                    and not raw.stamp.zone_text and not assumed_zone_noted):
                assumed_zone_noted = True
                date_notes.append(Note(
                    "mbox-date-zone",
                    f"From_ dates in this file have no time zone; they are read as {default_tz}"
                    " (this and all later messages)",
                    "pass the old server's time zone if it was not this one"))
            notes = carried + built.notes + date_notes
            carried = []
            yield MboxMessage(
                index=index, offset=raw.offset, length=raw.length, line=raw.line,
                from_line=raw.from_line, data=built.data,
                sha1=hashlib.sha1(built.data).hexdigest(), flags=built.flags,
                internaldate=when,
                findings=tuple(_finding(display, raw, n) for n in notes),
            )
            index += 1


def folder_keywords(path: Path) -> tuple[str, ...]:
    """Keywords of the folder from the UW pseudo message (X-IMAP) or X-IMAPbase, if any.

    Only the first message is read.
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        for raw in split_messages(f, start=0, first_line=1, size=size):
            if raw.junk:
                return ()
            built = _build(raw, unescape_mboxrd=False)
            for key in (b"x-imap", b"x-imapbase"):
                if key in built.metadata:
                    return imap_keywords(built.metadata[key][0])
            return ()
    return ()
