"""Where an old folder lands in Cyrus: one mapping used by the copy engine and by Sieve.

The copy engine puts ``~/mail/lists/python`` somewhere, and a translated
``fileinto`` must name exactly the same place, or filtered mail goes to a
folder nobody reads.  Both therefore ask this module.

Names here are Unicode with ``/`` as the hierarchy separator (the form Sieve
``fileinto`` uses on Cyrus with ``unixhierarchysep: yes``); the IMAP layer
encodes them to modified UTF-7 on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

INBOX = "INBOX"


@dataclass(frozen=True)
class FolderMapping:
    """How old folder paths become IMAP folder names.

    ``prefix`` is put before every folder path ("INBOX/" puts folders under
    the inbox, "" beside it); ``separator`` is the server's hierarchy
    separator.
    """

    prefix: str = "INBOX/"
    separator: str = "/"

    def folder(self, relative: str) -> str:
        """IMAP name for a folder path relative to the user's MAILDIR.

        Maildir (``dir/``) and MH (``dir/.``) suffixes are dropped, and
        dot-only or empty components are skipped because Cyrus refuses
        names with empty or leading-dot components.
        """
        parts = [p for p in PurePosixPath(relative).parts if p not in ("", ".", "/")]
        parts = [p.lstrip(".") or "_" for p in parts]
        if not parts:
            return INBOX
        name = self.separator.join(parts)
        if name.upper() == INBOX:
            return INBOX
        return f"{self.prefix}{name}" if self.prefix else name


DEFAULT_MAPPING = FolderMapping()
