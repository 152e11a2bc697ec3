"""mbox spools and folders: a streaming reader for the copy engine, a writer for rollback.

``read_mbox`` yields ``MboxMessage`` records whose ``data`` can be appended to
Cyrus as is and whose ``sha1`` equals Cyrus's ``DIGEST.SHA1`` of the stored
copy; ``read_folder`` reads maildir folders too; ``folder_keywords`` gives
the keywords of a UW IMAP folder; ``writer.append_message`` puts a message
back into an mbox spool the way a local delivery would.
"""

from collections.abc import Iterator
from pathlib import Path

from converters.mbox.maildir import is_maildir, maildir_size, read_maildir
from converters.mbox.reader import MboxMessage, folder_keywords, read_mbox


def read_folder(path: Path, *, display_name: str | None = None) -> Iterator[MboxMessage]:
    """The messages of an mbox file or a maildir directory, whichever ``path`` is."""
    if path.is_dir():
        return read_maildir(path, display_name=display_name)
    return read_mbox(path, display_name=display_name)


def folder_size(path: Path) -> int:
    """Bytes of mail in an mbox file or a maildir directory."""
    return maildir_size(path) if path.is_dir() else path.stat().st_size


__all__ = ["MboxMessage", "folder_keywords", "folder_size", "is_maildir", "read_folder",
           "read_maildir", "read_mbox"]
