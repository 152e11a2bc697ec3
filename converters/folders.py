"""Where an old folder lands in Cyrus: one mapping used by the copy engine and by Sieve.

The copy engine puts ``~/mail/lists/python`` somewhere, and a translated
``fileinto`` must name exactly the same place, or filtered mail goes to a
folder nobody reads.  Both therefore ask this module.

Names here are Unicode with ``/`` as the hierarchy separator (the form Sieve
``fileinto`` uses on Cyrus with ``unixhierarchysep: yes``); the IMAP layer
encodes them to modified UTF-7 on the wire.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from imapclient import imap_utf7

INBOX = "INBOX"

#: Directories that hold the users' spool files (``/var/mail/USER``) on old hosts.
SPOOL_DIRS = ("/var/mail", "/var/spool/mail", "/usr/spool/mail", "/usr/mail")


def spool_side_name(user: str, path: str) -> str | None:
    """NAME when ``path`` is a spool-side folder ``SPOOLDIR/USER.NAME``, else None.

    Rules like ``${DEFAULT}.Spam/`` (Maildir++ habit) or ``$ORGMAIL.spam``
    file mail next to the spool: with DEFAULT=/var/mail/alice that is
    ``/var/mail/alice.Spam`` (a maildir, MH folder or mbox).  Both the Sieve
    translation and the inventory call this, and the folder is
    ``FolderMapping.folder(NAME)``, so filtered mail and copied mail meet in
    one IMAP folder.  NAME is one path component (no ``/``).
    """
    norm = posixpath.normpath(path)
    directory, base = posixpath.split(norm)
    prefix = user + "."
    if directory not in SPOOL_DIRS or not base.startswith(prefix):
        return None
    name = base[len(prefix):]
    # USER.lock is the spool's lockfile (procmail's and mail.local's LOCKEXT).
    return name if name.strip(".") and name != "lock" else None


def text_name(name: str) -> str:
    """A file name as text, when the old host wrote it in a legacy 8-bit charset.

    Python gives undecodable file-name bytes as surrogates (``Entw\udcfcrfe``
    for Latin-1 ``Entwürfe``), which have no modified UTF-7 form, so the IMAP
    layer could not even name the folder.  Such bytes are read as
    windows-1252 (which ISO-8859-1 text also decodes as), like 8-bit headers.
    """
    raw = name.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("windows-1252", "replace")


#: The characters Cyrus 3.6 refuses in a mailbox name ("Invalid mailbox name"; found
#: by trying each one in the sandbox); ``^`` stands for ``.`` inside a Cyrus that
#: uses ``/`` as its separator.
_REFUSED = re.compile(r'[!"%;<>\\^`{|}\x00-\x1f\x7f]')


def _allowed(part: str) -> str:
    """``part`` with the characters Cyrus refuses replaced by ``_``, leaving the
    ``${VAR}`` references of a name Sieve completes at delivery as they are."""
    pieces = re.split(r"(\$\{[A-Za-z_][A-Za-z0-9_]*\})", part)
    return "".join(p if i % 2 else _REFUSED.sub("_", p) for i, p in enumerate(pieces))


@dataclass(frozen=True)
class FolderMapping:
    """How old folder paths become IMAP folder names.

    ``prefix`` is put before every folder path ("INBOX/" puts folders under
    the inbox, "" beside it); ``separator`` is the server's hierarchy
    separator.
    """

    prefix: str = "INBOX/"
    separator: str = "/"
    #: Cyrus's ``sieve_utf8fileinto``: off (Cyrus 3.6's default), ``fileinto`` takes the
    #: folder's modified UTF-7 name, as IMAP does; on, its UTF-8 name.
    utf8_fileinto: bool = False

    def fileinto_name(self, name: str) -> str:
        """The folder name as Cyrus's ``fileinto`` wants it (see ``utf8_fileinto``).

        A UTF-8 name given to a Cyrus that expects modified UTF-7 names a folder
        that does not exist, and the message silently lands in INBOX.
        """
        return name if self.utf8_fileinto else imap_utf7.encode(name).decode("ascii")

    def folder(self, relative: str) -> str:
        """IMAP name for a folder path relative to the user's MAILDIR.

        Maildir (``dir/``) and MH (``dir/.``) suffixes are dropped, and
        dot-only or empty components are skipped because Cyrus refuses
        names with empty or leading-dot components.  Characters Cyrus 3.6
        refuses in a mailbox name (``!"%;<>\\^`{|}``, control characters;
        checked in the sandbox) become ``_``: the copy and the Sieve scripts
        both use this name, so they still meet.
        """
        parts = [p for p in PurePosixPath(relative).parts if p not in ("", ".", "/")]
        parts = [_allowed(text_name(p)).lstrip(".") or "_" for p in parts]
        if not parts:
            return INBOX
        name = self.separator.join(parts)
        if name.upper() == INBOX:
            return INBOX
        return f"{self.prefix}{name}" if self.prefix else name


DEFAULT_MAPPING = FolderMapping()
