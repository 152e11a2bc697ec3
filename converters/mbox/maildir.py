"""Reading a maildir folder (``dir/`` in procmail) as messages ready for Cyrus APPEND.

procmail users often have one or two maildir folders among their mbox ones
(``:0`` into ``lists/cron/``).  Each file is one message; its flags are in the
file name (``:2,FRS``) and its delivery time in the name's leading number.
The same output policy as the mbox reader applies (``reader._build``), so a
maildir message is changed exactly as an mbox one would be, with the same
findings, and its ``sha1`` is what Cyrus will store.

The ``offset`` of a maildir message is not a byte position: it is a stable
63-bit key derived from the file's unique name (the part before ``:``), so
the copy ledger can tell messages apart across runs even when flags (and so
the file name) change or files move from ``new/`` to ``cur/``.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from converters.finding import Finding
from converters.mbox.reader import MboxMessage, _build, _finding
from converters.mbox.splitter import Note, RawMessage

#: Maildir info letters -> IMAP flags.  "P" (passed/forwarded) has no IMAP
#: system flag; it becomes the common keyword $Forwarded.
INFO_FLAGS = {"D": "\\Draft", "F": "\\Flagged", "P": "$Forwarded", "R": "\\Answered",
              "S": "\\Seen", "T": "\\Deleted"}


def is_maildir(path: Path) -> bool:
    """A directory with ``cur`` and ``new`` (``tmp`` is often missing in old copies)."""
    return (path / "cur").is_dir() and (path / "new").is_dir()


def message_key(unique: str) -> int:
    """Stable 63-bit ledger key of a maildir file's unique name."""
    return int.from_bytes(hashlib.sha1(unique.encode("utf-8", "surrogateescape")).digest()[:8],
                          "big") >> 1


def _keywords(folder: Path) -> dict[str, str]:
    """Dovecot's ``dovecot-keywords`` file: letter a-z -> keyword name."""
    out: dict[str, str] = {}
    try:
        lines = (folder / "dovecot-keywords").read_text("utf-8", "replace").splitlines()
    except OSError:
        return out
    for line in lines:
        num, _, name = line.partition(" ")
        if num.isdigit() and int(num) < 26 and name:
            out[chr(ord("a") + int(num))] = name
    return out


def _delivered(name: str, path: Path) -> datetime:
    """Delivery time from the leading number of the name, else the file's mtime."""
    head = name.split(".", 1)[0]
    stamp = int(head) if head.isdigit() else int(path.stat().st_mtime)
    return datetime.fromtimestamp(stamp, UTC)


def read_maildir(folder: Path, *, display_name: str | None = None) -> Iterator[MboxMessage]:
    """Yield the messages of a maildir in delivery order (by file name), one at a time."""
    display = display_name or str(folder)
    keywords = _keywords(folder)
    files = sorted(((sub, p) for sub in ("new", "cur") for p in (folder / sub).iterdir()
                    if p.is_file() and not p.name.startswith(".")), key=lambda f: f[1].name)
    for index, (sub, path) in enumerate(files):
        unique, _, info = path.name.partition(":")
        flags: list[str] = []
        notes: list[Note] = []
        if sub == "cur" and info.startswith("2,"):
            for letter in info[2:]:
                if letter in INFO_FLAGS:
                    flags.append(INFO_FLAGS[letter])
                elif letter in keywords:
                    flags.append(keywords[letter])
                else:
                    notes.append(Note("maildir-flag", f"unknown maildir flag {letter!r} "
                                      "in the file name was not carried over"))
        content = path.read_bytes()
        raw = RawMessage(offset=message_key(unique), line=0,
                         from_line=f"{sub}/{path.name}".encode("utf-8", "surrogateescape"),
                         stamp=None, content=bytearray(content), length=len(content))
        built = _build(raw, unescape_mboxrd=False)
        findings: list[Finding] = [_finding(f"{display}/{sub}/{path.name}", raw, n)
                                   for n in built.notes + notes]
        yield MboxMessage(
            index=index, offset=raw.offset, length=len(content), line=0,
            from_line=raw.from_line, data=built.data,
            sha1=hashlib.sha1(built.data).hexdigest(),
            flags=tuple(dict.fromkeys(list(built.flags) + flags)),
            internaldate=_delivered(unique, path), findings=tuple(findings))


def deliver_maildir(folder: Path, data: bytes, when: datetime) -> int:
    """Deliver one message into a maildir as a local delivery agent would; return its key.

    The file is written under ``tmp/``, synced, then renamed into ``new/``
    (the maildir protocol), with LF line ends as the old MUAs expect.  The
    key is the ledger key ``read_maildir`` will give the same file.
    """
    unique = f"{int(when.timestamp())}.M{time.time_ns() % 10**9}P{os.getpid()}.mailmigrate"
    (folder / "tmp").mkdir(exist_ok=True)
    tmp = folder / "tmp" / unique
    with open(tmp, "xb") as fh:
        fh.write(data.replace(b"\r\n", b"\n"))
        fh.flush()
        os.fsync(fh.fileno())
    os.rename(tmp, folder / "new" / unique)
    return message_key(unique)


def maildir_size(folder: Path) -> int:
    """Total bytes of the messages, for progress bars."""
    return sum(os.stat(p).st_size for sub in ("new", "cur") for p in (folder / sub).iterdir()
               if p.is_file())
