"""Making a message's header section acceptable to Cyrus APPEND, and reading mbox metadata.

Cyrus 3.6 (imap/message.c ``message_copy_strict``) rejects a header line whose
field name holds a space or control character (lines starting ``From `` are
exempt), and turns 8-bit header bytes into ``X`` (``munge8bit``, the
default), which silently corrupts names and breaks the SHA-1 check.  The
policies here, each reported by a Note:

* 8-bit header text: each run of words holding 8-bit bytes becomes RFC 2047
  encoded-words in UTF-8; the bytes are read as UTF-8 if the field decodes as
  UTF-8, else as windows-1252, else as ISO-8859-1 (the note says which);
* a line that is not a header field, continuation or ``From `` line: if real
  header fields follow it, it is kept as the value of an ``X-Invalid-Header:``
  field; otherwise the header section ends there (an empty line is inserted),
  which is how RFC 5322 parsers read such messages anyway;
* a header section without a line end at the end of the message gets one
  (Cyrus rejects an unterminated last header line).

The mbox metadata fields UW c-client keeps in messages (Status, X-Status,
X-Keywords, X-UID, X-IMAP, X-IMAPbase, Content-Length) are removed, as
c-client hid them, and returned for conversion to flags.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field

from converters.mbox.lineends import crlf
from converters.mbox.splitter import Note

#: Fields that are mbox storage, not message content (c-client hides them).
METADATA_FIELDS = frozenset(
    {b"status", b"x-status", b"x-keywords", b"x-uid", b"x-imap", b"x-imapbase", b"content-length"}
)
_FIELD_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e]+:")
_FIELD_LINE = re.compile(rb"^[\x21-\x39\x3b-\x7e]+:", re.MULTILINE)
#: The start of a line that ``_kind`` calls ``bad`` (or an empty line).
_BAD_LINE = re.compile(rb"^(?![ \t]|[\x21-\x39\x3b-\x7e]+:|From )(?!\Z)", re.MULTILINE)
_HIGH = re.compile(rb"[\x80-\xff]")
#: A metadata field with its continuation lines, in a header section of whole lines.
_METADATA_FIELD = re.compile(
    rb"^(" + b"|".join(sorted(METADATA_FIELDS, reverse=True)) + rb"):"
    rb"([^\n]*\n(?:[ \t][^\n]*\n)*)", re.I | re.M)
#: The fields whose first value the reader needs (dates, the UW pseudo message's subject).
WANTED_FIELDS = (b"date", b"received", b"subject")
_WANTED_FIELD = re.compile(rb"^(" + b"|".join(WANTED_FIELDS) + rb"):"
                           rb"([^\n]*\n(?:[ \t][^\n]*\n)*)", re.I | re.M)
_WORDS = re.compile(rb"([ \t]+)")
#: Payload bytes per encoded-word so that ``=?UTF-8?B?...?=`` stays within 75 characters.
_WORD_BYTES = 45


@dataclass
class HeaderResult:
    """The rewritten header section (CRLF, no final empty line) and what was learnt from it."""

    header: bytes
    has_end: bool                   # an empty line must follow the header section
    rest: bytes                     # lines moved from the header section into the body
    metadata: dict[bytes, list[bytes]] = field(default_factory=dict)
    first: dict[bytes, bytes] = field(default_factory=dict)   # first value, WANTED_FIELDS
    notes: list[Note] = field(default_factory=list)


def _kind(line: bytes) -> str:
    """``field``, ``cont`` (continuation), ``from`` (Cyrus-exempt) or ``bad``."""
    if line[:1] in (b" ", b"\t"):
        return "cont"
    if _FIELD_NAME.match(line):
        return "field"
    if line.startswith(b"From "):
        return "from"
    return "bad"


def _decode(raw: bytes) -> tuple[str, str]:
    """Text of 8-bit header bytes and the charset assumed for them."""
    for charset in ("utf-8", "windows-1252"):
        try:
            return raw.decode(charset), charset
        except UnicodeDecodeError:
            continue
    return raw.decode("iso-8859-1"), "iso-8859-1"


def encoded_words(text: str) -> bytes:
    """``text`` as UTF-8 B encoded-words of at most 75 characters, separated by spaces."""
    words: list[bytes] = []
    chunk = b""
    for char in text:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > _WORD_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += encoded
    if chunk:
        words.append(chunk)
    return b" ".join(b"=?UTF-8?B?" + base64.b64encode(w) + b"?=" for w in words)


def encode_8bit(raw: bytes, charset: str) -> bytes:
    """Replace each run of whitespace-separated words holding 8-bit bytes by encoded-words.

    ASCII words (addresses, angle brackets, keywords) stay as they are; a run
    that is exactly one quoted string loses its quotes, since encoded-words are
    not decoded inside quotes.
    """
    parts = _WORDS.split(raw)          # word, space, word, space, ... word
    out: list[bytes] = []
    i = 0
    while i < len(parts):
        if not _HIGH.search(parts[i]):
            out.append(parts[i])
            i += 1
            continue
        j = i
        while j + 2 < len(parts) and _HIGH.search(parts[j + 2]):
            j += 2
        run = b"".join(parts[i:j + 1])
        if len(run) > 1 and run.startswith(b'"') and run.endswith(b'"'):
            run = run[1:-1]
        out.append(encoded_words(run.decode(charset)))
        i = j + 1
    return b"".join(out)


def _encode_field(lines: list[bytes]) -> tuple[list[bytes], str]:
    """A field's physical lines with 8-bit text encoded; the charset that was assumed."""
    _, charset = _decode(b"".join(lines))
    out = []
    for n, line in enumerate(lines):
        if n == 0:
            name, _, value = line.partition(b":")
            out.append(name + b":" + encode_8bit(value, charset))
        else:
            out.append(encode_8bit(line, charset))
    return out, charset


def _fields(lines: list[bytes]) -> list[list[bytes]]:
    """Physical lines grouped into fields (a field is its first line plus continuations)."""
    groups: list[list[bytes]] = []
    for line in lines:
        if line[:1] in (b" ", b"\t") and groups:  # _kind(line) == "cont"
            groups[-1].append(line)
        else:
            groups.append([line])
    return groups


def _value(lines: list[bytes]) -> bytes:
    """A field's value (its first line after the colon, then its continuations), unfolded."""
    return b" ".join(g.strip() for g in [lines[0].partition(b":")[2], *lines[1:]])


def _unfolded(text: bytes) -> bytes:
    """The value matched by ``_METADATA_FIELD``/``_WANTED_FIELD``, as ``_value`` gives it."""
    return b" ".join(g.strip() for g in text.rstrip(b"\n").split(b"\n"))


def clean_header(section: bytes, has_end: bool) -> HeaderResult:
    """Rewrite a header section (file line ends, without the empty line) for Cyrus.

    ``has_end`` says whether the message had an empty line after it.  Nearly
    every real header is whole lines of ASCII fields: that case is done by a
    few regexes over the section (the reader's largest cost otherwise);
    anything else goes line by line, with the notes that explain it.
    """
    if section.endswith(b"\n") and _BAD_LINE.search(section) is None and (
            _HIGH.search(section) is None):
        return _clean_plain(section, has_end)
    return _clean_lines(section, has_end)


def _clean_plain(section: bytes, has_end: bool) -> HeaderResult:
    """``clean_header`` of whole lines of ASCII fields, continuations and From_ lines."""
    result = HeaderResult(header=b"", has_end=has_end, rest=b"")
    for found in _WANTED_FIELD.finditer(section):
        name = found.group(1).lower()
        if name not in result.first:
            result.first[name] = _unfolded(found.group(2))

    def take(found: re.Match) -> bytes:
        result.metadata.setdefault(found.group(1).lower(), []).append(
            _unfolded(found.group(2)))
        return b""

    result.header = crlf(_METADATA_FIELD.sub(take, section))
    return result


def _clean_lines(section: bytes, has_end: bool) -> HeaderResult:
    """``clean_header`` for any bytes, a line at a time."""
    terminated = not section or section.endswith(b"\n")
    notes: list[Note] = []
    lines: list[bytes] = []
    rest = b""
    pos = 0
    if _BAD_LINE.search(section) is None:
        # the usual case, every line a field, continuation or From_ line: split at once
        lines = section.split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
        pos = len(section)
    else:
        last_field = max((m.start() for m in _FIELD_LINE.finditer(section)), default=-1)
    while pos < len(section):
        newline = section.find(b"\n", pos)
        end = len(section) if newline < 0 else newline + 1
        line = section[pos:end].rstrip(b"\n")
        line = line[:-1] if line.endswith(b"\r") else line
        if _kind(line) == "bad":
            shown = line.decode("latin-1")[:60]
            if last_field < end:
                # nothing header-like follows: this is where the body really starts
                rest = section[pos:]
                notes.append(Note(
                    "mbox-header-end",
                    f"line {shown!r} is not a header field and no empty line came before it; "
                    "the header section now ends there", "",
                ))
                break
            line = b"X-Invalid-Header: " + line
            notes.append(Note(
                "mbox-invalid-header",
                f"header line {shown!r} is not a valid header field; kept as the value of an "
                "X-Invalid-Header field", "",
            ))
        lines.append(line)
        pos = end
    result = HeaderResult(header=b"", has_end=has_end or bool(rest), rest=b"", notes=notes)
    if rest:
        result.rest = crlf(rest)
    elif not terminated:
        notes.append(Note("mbox-header-eol",
                          "the message ends inside its header without a line end; one was added"))
    kept: list[bytes] = []
    charsets: set[str] = set()
    eight_bit = _HIGH.search(section) is not None  # one scan spares one per field
    for group in _fields(lines):
        name = group[0].partition(b":")[0].lower() if _kind(group[0]) == "field" else b""
        if name in METADATA_FIELDS:
            result.metadata.setdefault(name, []).append(_value(group))
            continue
        if name in WANTED_FIELDS and name not in result.first:
            result.first[name] = _value(group)
        if eight_bit and any(_HIGH.search(g) for g in group):
            group, charset = _encode_field(group)
            charsets.add(charset)
        kept.extend(group)
    if charsets:
        notes.append(Note(
            "mbox-8bit-header",
            "8-bit bytes in the header were RFC 2047-encoded as UTF-8 (read as "
            f"{', '.join(sorted(charsets))}); Cyrus would have turned them into 'X'", "",
        ))
    result.header = b"".join(k + b"\r\n" for k in kept)
    return result
