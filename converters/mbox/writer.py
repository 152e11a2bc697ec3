"""Appending a message to an mbox spool the way the old local delivery agent does.

Rollback returns mail that arrived in Cyrus to the old ``/var/mail/USER``
spool while sendmail, procmail and the user's mail client may still be using
it, so the append must follow their conventions exactly.  The old agent is
sendmail's ``local_procmail`` mailer, ``procmail -t -Y -a $h -d $u`` on a
Debian host, and what it writes (checked against the real procmail in the
tests) is the entry written here: a From_ line ``From SENDER  asctime`` (two spaces), LF line
ends (sendmail hands procmail LF text), every line that begins exactly
``From `` quoted with one ``>`` (mboxo: ``>From`` lines are left alone, so a
user of the old system sees what procmail would have shown), Content-Length
left as it is (``-Y``: procmail neither trusts nor rewrites it; without
``-Y`` it would rewrite the header of a message that has one and not quote),
a line end added to a last line without one.  Two things are done better than procmail,
to keep the file a valid mbox: an empty line always follows the message
(procmail omits it after a last line without a line end), and a file that
does not end with an empty line gets one before the new From_ line.

Locking is procmail's too: a dot-lock file ``FILE.lock`` (created
exclusively, stale after 1024 s) plus a kernel ``lockf`` lock; the write is
fsynced, and on any write error the file is cut back to its old size so no
half message is left.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import time
from collections.abc import Iterator
from datetime import datetime
from email.parser import BytesHeaderParser
from email.utils import parseaddr
from pathlib import Path

#: procmail's default: a lock file older than this many seconds is stale.
STALE_LOCK_SECONDS = 1024
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_QUOTE = re.compile(rb"^From ", re.MULTILINE)
_NOT_SENDER = re.compile(rb"[\x00-\x20\x7f]+")


def envelope_sender(data: bytes) -> str:
    """The sender a From_ line names for a message that comes back from Cyrus.

    The envelope sender, as Cyrus's lmtpd recorded it in ``Return-Path``
    (``<>``, a bounce, is MAILER-DAEMON as sendmail writes it).  A message a
    mail client saved into a folder never had an envelope: like the mbox
    writers of mutt and c-client, name the author (``From:``) rather than
    make it look like a bounce.
    """
    headers = BytesHeaderParser().parsebytes(data)
    for name in ("Return-Path", "From"):
        if name in headers:
            return parseaddr(str(headers[name]))[1] or "MAILER-DAEMON"
    return "MAILER-DAEMON"


def from_line(sender: str, date: datetime) -> bytes:
    """``From sender  Wed Dec  2 05:53:22 1992`` in the local time of this host,
    with procmail's two spaces before the date.

    An aware ``date`` is converted to local time (what sendmail writes); a
    naive one is taken as local wall-clock time.  Spaces and control
    characters in the sender would break the line, so they are dropped.
    """
    if date.tzinfo is not None:
        date = date.astimezone()
    who = _NOT_SENDER.sub(b"", sender.encode("utf-8")) or b"MAILER-DAEMON"
    stamp = (f"{_DAYS[date.weekday()]} {_MONTHS[date.month - 1]} {date.day:2d} "
             f"{date.hour:02d}:{date.minute:02d}:{date.second:02d} {date.year}")
    return b"From " + who + b"  " + stamp.encode("ascii") + b"\n"


def mbox_entry(data: bytes, *, sender: str, date: datetime) -> bytes:
    """The bytes one delivery adds: From_ line, quoted LF message, one empty line."""
    text = _QUOTE.sub(b">From ", data.replace(b"\r\n", b"\n"))
    if text and not text.endswith(b"\n"):
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

    ``mbox_entry`` is what is written, under fcntl + dotlock locks, fsynced.
    Used by rollback to return mail to the old spool.  The file is created
    (mode 0600) if missing.
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
