"""Folders beside the spool are copied into the folder the Sieve translation files into."""

from __future__ import annotations

from pathlib import Path

from converters.finding import Finding
from converters.folders import DEFAULT_MAPPING
from converters.procmail import convert_user
from migrate.inventory import FoundMailbox, find_mailboxes


def _site(tmp_path: Path) -> Path:
    spool = tmp_path / "var" / "mail"
    spool.mkdir(parents=True)
    (spool / "alice").write_bytes(b"From a@b Mon Jan  1 00:00:00 2024\n\nhi\n")
    (spool / "alice.lock").write_bytes(b"")
    (spool / "alice.smith").write_bytes(b"")             # another user's spool
    for sub in ("cur", "new", "tmp"):
        (spool / "alice.Spam" / sub).mkdir(parents=True)  # ${DEFAULT}.Spam/
    (spool / "alice.notes").write_bytes(b"not mail\n")
    home = tmp_path / "home" / "alice"
    home.mkdir(parents=True)
    (home / ".procmailrc").write_text(":0\n* B ?? viagra\n${DEFAULT}.Spam/\n")
    return tmp_path


def test_spool_side_folders_meet_the_sieve_folder(tmp_path: Path) -> None:
    root = _site(tmp_path)
    found = list(find_mailboxes(root, "alice", "/home/alice", DEFAULT_MAPPING,
                                frozenset({"alice", "alice.smith"})))
    boxes = {f.source: f.folder for f in found if isinstance(f, FoundMailbox)}
    assert boxes == {"/var/mail/alice": "INBOX", "/var/mail/alice.Spam": "INBOX/Spam"}
    skipped = [f for f in found if isinstance(f, Finding)]
    assert [(f.code, f.text) for f in skipped] == [("INV002", "alice.notes")]
    sieve = convert_user(user="alice", home=root / "home" / "alice", local_procmail=True)
    assert 'fileinto "INBOX/Spam";' in sieve.sieve
    assert boxes["/var/mail/alice.Spam"] in sieve.folders
