"""The live routing table: one domain's rows change without touching another's."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from migrate.routing import RoutingTable


def rows(db: Path, table: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return sorted(conn.execute(f"SELECT * FROM {table}"))


def test_publish_replaces_only_that_domains_aliases(tmp_path: Path):
    db = tmp_path / "r.sqlite"
    t = RoutingTable(db)
    t.publish_domain("a.example", "old:", [("x@a.example", "x@a.example"),
                                           ("y@b.example", "y@b.example")])
    t.publish_domain("b.example", "old:", [("y@b.example", "y@b.example")])
    t.publish_domain("a.example", "lmtp:x", [("z@A.example", "x@a.example")])
    assert rows(db, "virtual_alias") == [("y@b.example", "y@b.example"),
                                         ("z@a.example", "x@a.example")]
    assert rows(db, "transport") == [("a.example", "lmtp:x"), ("b.example", "old:")]
    assert t.transport("A.EXAMPLE") == "lmtp:x"
    assert t.transport("c.example") is None


def test_set_transport_is_the_switch(tmp_path: Path):
    t = RoutingTable(tmp_path / "r.sqlite")
    t.set_transport("a.example", "retry:4.3.2 hold")
    t.set_transport("a.example", "lmtp:inet:127.0.0.1:24")
    assert t.transport("a.example") == "lmtp:inet:127.0.0.1:24"


def test_not_in_wal_mode(tmp_path: Path):
    # Postfix reads the file as another user that cannot create WAL's -shm file.
    db = tmp_path / "r.sqlite"
    RoutingTable(db).set_transport("a.example", "x:")
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal"
