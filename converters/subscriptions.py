"""A user's old folder subscriptions, as Cyrus folder names.

UW IMAP (c-client) keeps the subscribed mailboxes in ``~/.mailboxlist``, one
name a line, relative to the home directory (``mail/lists/python``) or
absolute (``/home/alice/mail/x``, ``~/mail/x``); ``~/.subscriptions`` is the
same list as other servers (Dovecot's mbox layout) write it, relative to the
mail directory.  Names of other servers (``{host}INBOX``) or namespaces
(``#news.comp.mail``) have no meaning on the new server and are reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from converters.finding import Finding
from converters.folders import INBOX, FolderMapping

#: The subscription files, and whether their names are relative to the mail directory.
SUBSCRIPTION_FILES = ((".mailboxlist", False), (".subscriptions", True))


@dataclass(frozen=True)
class Subscription:
    """One subscribed folder and where it was listed."""

    folder: str  # Cyrus name, as FolderMapping gives it
    file: str
    line: int


def read_subscriptions(text: bytes, display: str, old_home: str, folder_dirs: tuple[str, ...],
                       mapping: FolderMapping,
                       in_mail_dir: bool) -> tuple[list[Subscription], list[Finding]]:
    """The folders a subscription file lists, and a finding for each name that maps to none.

    ``folder_dirs`` are the directory names under the home that hold
    folders (``mail``, ``Mail``); ``in_mail_dir`` says the names are relative
    to one of them rather than to the home directory.
    """
    subs: list[Subscription] = []
    findings: list[Finding] = []
    home = PurePosixPath(old_home)
    for number, raw in enumerate(text.splitlines(), 1):
        name = raw.decode("utf-8", "surrogateescape").strip()
        if not name:
            continue
        folder = _folder(name, home, folder_dirs, mapping, in_mail_dir)
        if folder is None:
            findings.append(Finding(
                "info", display, number, name,
                "subscribed name is not a folder of this user's mail directory (another "
                "server, a namespace or a file elsewhere): not subscribed in Cyrus",
                "subscribe by hand if the folder was copied some other way", code="SUB001"))
            continue
        subs.append(Subscription(folder, display, number))
    return subs, findings


def _folder(name: str, home: PurePosixPath, folder_dirs: tuple[str, ...],
            mapping: FolderMapping, in_mail_dir: bool) -> str | None:
    if name.startswith(("{", "#")):
        return None
    if name.upper() == INBOX:
        return INBOX
    if name.startswith("~/"):
        name = name[2:]
    path = PurePosixPath(name)
    if path.is_absolute():
        if not path.is_relative_to(home):
            return None
        path = path.relative_to(home)
    elif in_mail_dir:
        return mapping.folder(path.as_posix())
    parts = path.parts
    if parts == ("mbox",):
        return mapping.folder("mbox")
    if len(parts) < 2 or parts[0] not in folder_dirs:
        return None
    return mapping.folder(PurePosixPath(*parts[1:]).as_posix())
