"""The pure halves of subscriptions and parity: old list -> folders, digests -> differences."""

from __future__ import annotations

from pathlib import Path

from checks.parity import FolderParity, compare
from converters.folders import FolderMapping
from converters.mbox import read_mbox
from converters.subscriptions import read_subscriptions

DATA = Path(__file__).resolve().parents[1] / "data/mbox"


def test_mailboxlist_names_become_cyrus_folders_and_strangers_are_reported():
    text = ("mail/lists/python\n/home/ann/Mail/Entwürfe\n~/mail/x\nINBOX\nmbox\n"
            "{imap.example.org}INBOX\n#news.comp.mail\n/srv/shared/box\nnotes/todo\n\n").encode()
    subs, findings = read_subscriptions(text, "/home/ann/.mailboxlist", "/home/ann",
                                        ("mail", "Mail"), FolderMapping(), in_mail_dir=False)
    assert [(s.folder, s.line) for s in subs] == [
        ("INBOX/lists/python", 1), ("INBOX/Entwürfe", 2), ("INBOX/x", 3), ("INBOX", 4),
        ("INBOX/mbox", 5)]
    assert [(f.line, f.code) for f in findings] == [(6, "SUB001"), (7, "SUB001"),
                                                    (8, "SUB001"), (9, "SUB001")]


def test_subscriptions_file_names_are_relative_to_the_mail_directory():
    subs, findings = read_subscriptions(b"lists/python\nINBOX\n", "/home/ann/.subscriptions",
                                        "/home/ann", ("mail",), FolderMapping(prefix=""),
                                        in_mail_dir=True)
    assert [s.folder for s in subs] == ["lists/python", "INBOX"] and not findings


def _parity(path: Path, target: dict[int, str], ledger: dict[int, int],
            arrived_from: int | None = None) -> FolderParity:
    return compare(FolderParity("u", str(path), "INBOX"), path, target, ledger, arrived_from)


def test_parity_matches_by_ledger_then_digest_and_names_each_difference():
    path = DATA / "formats.mbox"
    msgs = list(read_mbox(path))
    assert len(msgs) >= 4
    target = {10 + i: m.sha1 for i, m in enumerate(msgs)}
    ledger = {m.offset: 10 + i for i, m in enumerate(msgs)}
    assert not _parity(path, target, ledger).differs
    assert not _parity(path, target, {}).differs          # digest alone is enough
    del target[11]                                         # deleted in Cyrus
    target[12] = "0" * 40                                  # other bytes under the ledger UID
    target[99] = "f" * 40                                  # added in Cyrus
    p = _parity(path, target, ledger)
    assert [m["line"] for m in p.missing] == [msgs[1].line]
    assert [(d["line"], d["uid"]) for d in p.different] == [(msgs[2].line, 12)]
    assert [e["uid"] for e in p.extra] == [99]
    arrived = _parity(path, target, ledger, arrived_from=99)
    assert arrived.extra == [] and arrived.arrived == 1


def test_parity_counts_duplicates_as_often_as_they_occur():
    path = DATA / "formats.mbox"
    msgs = list(read_mbox(path))
    target = {1: msgs[0].sha1, 2: msgs[0].sha1}
    p = _parity(path, target, {})
    assert len(p.missing) == len(msgs) - 1 and [e["uid"] for e in p.extra] == [2]
