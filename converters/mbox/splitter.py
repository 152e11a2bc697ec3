"""Cutting an mbox file into messages, one at a time, without loading the file.

The file is read line by line through a buffered binary reader, so memory is
bounded by the largest single message, whatever the file size.  The rules:

* a separator is a From_ line with a valid date (see ``fromline``) that
  follows a blank line or starts the file, as UW c-client requires.  A dated
  From_ line right after text starts a message only when a header field
  follows it (procmail writes no blank line after a message without a final
  line end, so real spools hold such joins), with a warning; otherwise it
  stays in the body and is reported;
* a ``Content-Length`` header (mboxcl/mboxcl2) is trusted only when the body
  it measures ends exactly at end of file or at a separator (optionally after
  one blank line); otherwise it is ignored and reported;
* the blank line before a separator (and one at end of file) belongs to the
  mbox, not to the message, as in Python's ``mailbox`` and Dovecot;
* a UTF-8 byte-order mark or blank lines before the first separator belong to
  the first message's byte range and are reported; any other bytes there
  become a message of their own, reported, never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from converters.finding import Severity
from converters.mbox.fromline import FromStamp, is_separator, parse_from_line

BOM = b"\xef\xbb\xbf"
_BLANK = (b"\n", b"\r\n")
_FIELD = re.compile(rb"[\x21-\x39\x3b-\x7e]+:")
_CONTENT_LENGTH = re.compile(rb"content-length:[ \t]*(\S*)[ \t]*\r?\n?", re.IGNORECASE)


@dataclass(frozen=True)
class Note:
    """A reason (and suggested action) attached to one message; the reader makes Findings."""

    code: str
    reason: str
    suggestion: str = ""
    severity: Severity = "info"


@dataclass
class RawMessage:
    """One message as found in the file, before any change for Cyrus.

    ``content`` is everything after the From_ line with the file's own line
    ends; ``offset``/``length`` cover the From_ line, the content and the
    separator blank line, so consecutive messages tile the file.
    """

    offset: int
    line: int
    from_line: bytes
    stamp: FromStamp | None
    content: bytearray = field(default_factory=bytearray)
    length: int = 0
    junk: bool = False
    notes: list[Note] = field(default_factory=list)
    in_header: bool = True
    declared_length: bytes | None = None
    content_length_end: int | None = None


#: A From_ line whose date did not parse but that has a sender and a time of day
#: ("From bob Do Okt  1 10:00:00 2026"); "From Russia with love" has neither.
_ODD_STAMP = re.compile(rb"From \S+ .*\b\d{1,2}:\d{2}")


def _content_length_fits(f: BinaryIO, target: int, size: int) -> bool:
    """True when ``target`` is end of file or the start of a separator (after one blank line).

    The file position is restored, so the caller's line iteration is undisturbed.
    """
    if target == size:
        return True
    if target > size or target <= 0:
        return False
    here = f.tell()
    try:
        f.seek(target - 1)
        if f.read(1) != b"\n":
            return False
        first = f.readline()
        if first in _BLANK:
            second = f.readline()
            return second == b"" or is_separator(second)
        return is_separator(first)
    finally:
        f.seek(here)


def _header_follows(f: BinaryIO) -> bool:
    """True when the line after the current file position is a header field (position kept)."""
    here = f.tell()
    try:
        return _FIELD.match(f.readline()) is not None
    finally:
        f.seek(here)


def _header_line(msg: RawMessage, line: bytes, pos: int, f: BinaryIO, size: int) -> None:
    """Track the end of the header section and check a Content-Length header there."""
    if line in _BLANK:
        msg.in_header = False
        declared = msg.declared_length
        if declared is None:
            return
        if declared.isdigit() and _content_length_fits(f, pos + int(declared), size):
            msg.content_length_end = pos + int(declared)
        else:
            msg.notes.append(Note(
                "mbox-content-length",
                f"Content-Length: {declared.decode('latin-1')} does not end at the next "
                "message or at end of file; ignored, the message ends at the next From_ line",
                "check that the message boundaries are right",
            ))
        return
    if line[:15].lower() == b"content-length:" and msg.declared_length is None:
        match = _CONTENT_LENGTH.match(line)
        msg.declared_length = match.group(1) if match else b""


def _finish(msg: RawMessage, end: int, drop_blank: bytes | None) -> RawMessage:
    """Close ``msg`` at byte ``end``, giving its separator blank line back to the mbox.

    A blank line inside a body measured by Content-Length is the message's own.
    """
    inside = msg.content_length_end is not None and msg.content_length_end >= end
    if drop_blank and not inside and msg.content.endswith(drop_blank):
        del msg.content[-len(drop_blank):]
    msg.length = end - msg.offset
    return msg


def _plain_lines(f: BinaryIO) -> bytes:
    """Read the whole lines now buffered that cannot start a message: b"" if there are none.

    A body is mostly such lines, and only a line starting ``From `` matters to
    the splitter; taking the lines up to the next one in one read keeps the
    per-line Python work (most of the reader's time) to header and From_
    lines.  The caller must be at a line start.
    """
    buf = f.peek(1)
    if b"From ".startswith(buf[:5]):  # a From_ line, or too few bytes buffered to tell
        return b""
    cut = buf.find(b"\nFrom ") + 1 or buf.rfind(b"\n") + 1
    return f.read(cut) if cut else b""


def _ends_blank(lines: bytes) -> bytes | None:
    """The last line of ``lines`` if it is blank (as ``last_blank`` tracks), else None."""
    for blank in _BLANK:
        if lines == blank or lines.endswith(b"\n" + blank):
            return blank
    return None


def split_messages(f: BinaryIO, *, start: int, first_line: int, size: int) -> Iterator[RawMessage]:
    """Yield the raw messages of an open binary mbox from byte ``start`` (line ``first_line``).

    ``start`` must be 0 or the offset of a separator; a ValueError says otherwise.
    ``f`` must be buffered (it is peeked at); a large buffer makes bodies cheap.
    """
    f.seek(start)
    pos, lineno = start, first_line - 1
    msg: RawMessage | None = None
    carried: list[Note] = []
    last_blank: bytes | None = None
    while True:
        if msg is not None and (msg.junk or not msg.in_header):
            bulk = _plain_lines(f)
            if bulk:
                lineno += bulk.count(b"\n")
                pos += len(bulk)
                msg.content += bulk
                last_blank = _ends_blank(bulk)
                continue
        line = f.readline()
        if not line:
            break
        lineno += 1
        off = pos
        pos += len(line)
        if msg is None:
            msg = _first_message(line, off, lineno, start)
            if not msg.junk:
                continue
        elif line.startswith(b"From "):
            at_length_end = msg.content_length_end == off
            inside_length = msg.content_length_end is not None and off < msg.content_length_end
            stamp = parse_from_line(line)
            odd = (stamp is None and last_blank is not None and not inside_length
                   and not msg.junk and _ODD_STAMP.match(line) is not None
                   and _header_follows(f))
            if odd:  # an empty line before, a time of day, a header after: a separator
                words = line.split()
                stamp = FromStamp(sender=words[1] if len(words) > 1 else b"-", when=None,
                                  zone=None)
            unspaced = (stamp is not None and not inside_length and last_blank is None
                        and not msg.junk and not at_length_end and _header_follows(f))
            if stamp is not None and not inside_length and (
                last_blank is not None or msg.junk or at_length_end or unspaced
            ):
                if msg.junk and not msg.content.strip():
                    carried = [Note(
                        "mbox-leading-blank",
                        f"{len(msg.content)} bytes of blank lines before the first From_ line "
                        "are not part of any message", "",
                    )]
                else:
                    yield _finish(msg, off, last_blank)
                    carried = []
                new = RawMessage(offset=off, line=lineno, from_line=line.rstrip(b"\r\n"),
                                 stamp=stamp)
                if carried:
                    new.offset = msg.offset
                    new.notes.extend(carried)
                if odd:
                    new.notes.append(Note(
                        "mbox-odd-from",
                        "the date of this From_ line could not be read, but an empty line "
                        "comes before it and a header after it, so a new message starts here; "
                        "its date is taken from its Received or Date header",
                        "check that this and the previous message are whole",
                        severity="warning",
                    ))
                if unspaced:
                    new.notes.append(Note(
                        "mbox-unspaced-from",
                        "this From_ line has no empty line before it but is followed by a "
                        "header, so a new message starts here (procmail writes no empty line "
                        "after a message that lacks a final line end)",
                        "check that this and the previous message are whole",
                        severity="warning",
                    ))
                msg = new
                last_blank = None
                continue
            if stamp is not None:
                why = ("Content-Length says the message goes on"
                       if inside_length and last_blank is not None else "no blank line before it")
                msg.notes.append(Note(
                    "mbox-from-in-body",
                    f"line {lineno} looks like a From_ separator but is kept in the message "
                    f"({why})",
                    "check whether two messages were run together here",
                ))
        msg.content += line
        if msg.in_header and not msg.junk:
            _header_line(msg, line, pos, f, size)
        last_blank = line if line in _BLANK else None
    if msg is not None and (msg.content.strip() or not msg.junk):
        yield _finish(msg, pos, last_blank)


def _first_message(line: bytes, off: int, lineno: int, start: int) -> RawMessage:
    """The message opened by the first line read: a From_ line, or junk at the start of file."""
    bom = off == 0 and line.startswith(BOM)
    stamp = parse_from_line(line[len(BOM):] if bom else line)
    if stamp is not None:
        msg = RawMessage(offset=off, line=lineno, from_line=line.rstrip(b"\r\n")[bom * 3:],
                         stamp=stamp)
        if bom:
            msg.notes.append(Note(
                "mbox-bom", "a UTF-8 byte-order mark before the first From_ line was removed"))
        return msg
    if start:
        raise ValueError(f"offset {start} is not the start of a From_ line")
    return RawMessage(offset=off, line=lineno, from_line=b"", stamp=None, junk=True)
