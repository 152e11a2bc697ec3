"""What the old delivery agent writes into an mbox for a message: the real procmail.

Sendmail's local mailer on the old host is ``procmail -t -Y -a $h -d $u``;
sendmail hands it LF text and the envelope sender.  ``procmail -Y -f SENDER
-m RC`` with DEFAULT pointing at an empty file writes the same entry (From_
line included), so that file is what rollback must have appended.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path

PROCMAIL = shutil.which("procmail")


def procmail_entry(data: bytes, sender: str) -> tuple[bytes, datetime]:
    """(the bytes procmail appends for ``data`` from ``sender``, the naive UTC time on
    its From_ line); ``data`` may have CRLF line ends, as Cyrus holds it."""
    assert PROCMAIL is not None
    with tempfile.TemporaryDirectory(prefix="procmail-entry-") as tmp:
        spool, rc = Path(tmp) / "spool", Path(tmp) / "rc"
        rc.write_text(f"MAILDIR={tmp}\nDEFAULT={spool}\nLOGFILE={tmp}/log\n")
        subprocess.run([PROCMAIL, "-Y", "-f", sender, "-m", str(rc)],
                       input=data.replace(b"\r\n", b"\n"), check=True,
                       env={"PATH": os.environ["PATH"], "TZ": "UTC"})
        entry = spool.read_bytes()
    head = entry[:entry.index(b"\n")].decode()
    prefix = f"From {sender}  "
    assert head.startswith(prefix), head
    return entry, datetime.strptime(head.removeprefix(prefix), "%a %b %d %H:%M:%S %Y")
