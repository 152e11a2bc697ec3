"""A tracker written by an earlier version is brought up to date in place."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from converters.finding import InputError
from migrate.tracker import Mailbox, open_tracker
from migrate.tracker import session as tracker_session


def _fresh(path: Path) -> str:
    url = f"sqlite:///{path}"
    with open_tracker(url):
        pass
    tracker_session._engines.pop(url)  # the next open reads the file as a new process would
    return url


def test_a_missing_nullable_column_is_added(tmp_path: Path) -> None:
    url = _fresh(tmp_path / "t.sqlite")
    with sqlite3.connect(tmp_path / "t.sqlite") as conn:
        conn.execute("ALTER TABLE mailboxes DROP COLUMN source_stamp")
    with open_tracker(url) as session:
        assert session.query(Mailbox).filter(Mailbox.source_stamp.is_(None)).count() == 0
    with sqlite3.connect(tmp_path / "t.sqlite") as conn:
        names = [row[1] for row in conn.execute("PRAGMA table_info(mailboxes)")]
    assert "source_stamp" in names


def test_a_missing_required_column_is_an_input_error(tmp_path: Path) -> None:
    url = _fresh(tmp_path / "t.sqlite")
    with sqlite3.connect(tmp_path / "t.sqlite") as conn:
        conn.execute("ALTER TABLE mailboxes DROP COLUMN folder")
    with pytest.raises(InputError, match="mailboxes.folder"):
        with open_tracker(url):
            pass
    tracker_session._engines.pop(url, None)
