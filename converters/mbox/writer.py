"""Appending a message to an mbox spool the way a local delivery agent does.

Rollback returns mail that arrived in Cyrus to the old ``/var/mail/USER``
spool while sendmail, procmail and the user's mail client may still be using
it, so the append must follow their conventions exactly: a dot-lock file
``FILE.lock`` (created exclusively, stale after 1024 s as in procmail) plus a
kernel ``lockf`` lock, a From_ line in asctime format, LF line ends, mboxrd
``>From`` quoting, one empty line after the message, fsync, and on any write
error the file is cut back to its old size so no half message is left.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

#: procmail's default: a lock file older than this many seconds is stale.
STALE_LOCK_SECONDS = 1024
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_QUOTE = re.compile(rb"^(>*From )", re.MULTILINE)
_NOT_SENDER = re.compile(rb"[\x00-\x20\x7f]+")


def from_line(sender: str, date: datetime) -> bytes:
    """``From sender Wed Dec  2 05:53:22 1992`` in the local time of this host.

    An aware ``date`` is converted to local time (what sendmail writes); a
    naive one is taken as local wall-clock time.  Spaces and control
    characters in the sender would break the line, so they are dropped.
    """
    if date.tzinfo is not None:
        date = date.astimezone()
    who = _NOT_SENDER.sub(b"", sender.encode("utf-8")) or b"MAILER-DAEMON"
    stamp = (f"{_DAYS[date.weekday()]} {_MONTHS[date.month - 1]} {date.day:2d} "
             f"{date.hour:02d}:{date.minute:02d}:{date.second:02d} {date.year}")
    return b"From " + who + b" " + stamp.encode("ascii") + b"\n"


def mbox_entry(data: bytes, *, sender: str, date: datetime) -> bytes:
    """The bytes one delivery adds: From_ line, quoted LF message, one empty line."""
    text = data.replace(b"\r\n", b"\n")
    text = _QUOTE.sub(rb">\1", text)
    if not text.endswith(b"\n"):
        text += b"\n"
    return from_line(sender, date) + text + b"\n"


@contextlib.contextmanager
def dotlock(path: Path, timeout: float) -> Iterator[None]:
    """Hold ``path.lock`` (exclusive create), waiting up to ``timeout`` seconds."""
    lock = Path(str(path) + ".lock")
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            break
        except FileExistsError:
            with contextlib.suppress(FileNotFoundError):
                if time.time() - lock.stat().st_mtime > STALE_LOCK_SECONDS:
                    lock.unlink()
                    continue
            if time.monotonic() > deadline:
                raise TimeoutError(f"{lock} is held by another process") from None
            time.sleep(0.2)
    os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()


def _separator_needed(fd: int, size: int) -> bytes:
    """Line ends to add so that the new From_ line follows an empty line (or starts the file)."""
    if size == 0:
        return b""
    tail = os.pread(fd, 2, max(0, size - 2))
    if not tail.endswith(b"\n"):
        return b"\n\n"
    if tail == b"\n\n" or size == 1:
        return b""
    return b"\n"


def append_message(path: Path, data: bytes, *, sender: str, date: datetime,
                   lock_timeout: float = 60.0) -> int:
    """Append one message to an mbox spool the way a sendmail/procmail local delivery would.

    From_ line, LF line endings, mboxrd >From quoting of body lines, blank line
    after; with fcntl + dotlock locking; fsync.  Used by rollback to return
    mail to the old spool.  The file is created (mode 0600) if missing.
    Returns the byte offset of the new From_ line (what ``read_mbox`` will
    report as the message's offset; one or two line ends may precede it when
    the file did not end with an empty line).
    """
    entry = mbox_entry(data, sender=sender, date=date)
    with dotlock(Path(path), lock_timeout):
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            gap = _separator_needed(fd, size)
            out = memoryview(gap + entry)
            try:
                while out:
                    out = out[os.write(fd, out):]
                os.fsync(fd)
            except OSError:
                os.ftruncate(fd, size)
                raise
        finally:
            os.close(fd)
    return size + len(gap)
