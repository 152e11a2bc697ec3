"""Has an old mbox been rewritten since the last copy pass?

The copy ledger keys each message by its byte offset, which only holds while
the old spool grows by appending.  A mail client on the old host that
deleted or changed a message rewrote the file: it may have shrunk, or be the
same size or larger with other bytes at the recorded offsets.  Re-reading the
first and the last recorded message (the file head and the end of what was
copied) and comparing their length and SHA-1 with the ledger catches both
without reading the whole file.

``file_stamp`` answers the cheaper question verify asks: has the file changed
at all since a copy pass read it?
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterable
from pathlib import Path

from converters.finding import InputError
from converters.mbox import read_mbox
from migrate.tracker import Message


def _at(path: Path, row: Message) -> str | None:
    """Why the message recorded in ``row`` is no longer at its offset, or None."""
    end = row.offset + row.length
    size = path.stat().st_size
    if size < end:
        return (f"the file has {size} bytes; the message copied from byte {row.offset} ended "
                f"at byte {end}")
    try:
        now = next(read_mbox(path, start=row.offset), None)
    except InputError:
        return f"no message starts any more at byte {row.offset}"
    if now is None:
        return f"no message starts any more at byte {row.offset}"
    want = row.sha1 if row.origin == "copy" else row.mbox_sha1
    if want is None:
        return None  # returned by an older rollback, which kept only Cyrus's digest
    if now.length != row.length or now.sha1 != want:
        return (f"the message at byte {row.offset} (line {now.line}) is not the one "
                f"recorded (SHA-1 {want[:12]}, now {now.sha1[:12]})")
    return None


def source_change(path: Path, recorded: Iterable[Message]) -> str | None:
    """Why the mbox at ``path`` no longer matches the ledger, or None if it only grew."""
    rows = sorted(recorded, key=lambda r: r.offset)
    if not rows or path.is_dir():
        return None  # maildir keys are file names, not offsets: nothing can shift
    for row in dict.fromkeys((rows[0], rows[-1])):
        reason = _at(path, row)
        if reason:
            return reason
    return None


#: A file modified less than this long before it is stamped may change again within the
#: same timestamp tick without its stamp changing (git's "racily clean" case).
RACY_SECONDS = 2.0


def file_stamp(path: Path) -> str | None:
    """Device, inode, size, mtime and ctime of an mbox file, or None when they cannot
    prove it unchanged later (a directory, a file that does not exist, or one modified
    within RACY_SECONDS).

    Any write changes size or mtime, and ctime cannot be set back by the tools
    that set mtime, so equal stamps mean the bytes are those that were read.
    """
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or time.time() - st.st_mtime < RACY_SECONDS:
        return None
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"
