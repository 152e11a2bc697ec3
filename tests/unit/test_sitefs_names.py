"""File names that are not UTF-8: stored as text, found again on disk, named as folders."""

from __future__ import annotations

import os
from pathlib import Path

from converters.folders import FolderMapping
from migrate.sitefs import old_path, on_disk, path_name, path_text


def test_undecodable_bytes_and_backslashes_round_trip():
    for raw in (b"Entw\xfcrfe", b"a\\b\\x41", "Entwürfe".encode(), b"x\\xfc\xfc", b"plain"):
        name = os.fsdecode(raw)
        text = path_text(name)
        text.encode("utf-8")  # storable
        assert os.fsencode(path_name(text)) == raw
    assert path_text(os.fsdecode(b"Gel\xf6scht")) == "Gel\\xf6scht"


def test_old_path_and_on_disk_agree(tmp_path: Path):
    folder = tmp_path / "home/ann/mail"
    folder.mkdir(parents=True)
    disk = Path(os.fsdecode(bytes(folder) + b"/Entw\xfcrfe"))
    disk.write_bytes(b"")
    old = old_path(tmp_path, disk)
    assert old == "/home/ann/mail/Entw\\xfcrfe"
    assert on_disk(tmp_path, old).is_file()


def test_a_latin1_folder_name_becomes_its_unicode_imap_name():
    assert FolderMapping().folder(os.fsdecode(b"Gel\xf6scht/alt")) == "INBOX/Gelöscht/alt"
    assert FolderMapping().folder("Entwürfe") == "INBOX/Entwürfe"
