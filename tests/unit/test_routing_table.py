"""The live routing table: one domain's rows change without touching another's, and an
alias domain (addresses, no mailboxes) is published in its own class, never as a relay domain."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

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


def test_alias_domain_is_never_a_relay_domain(tmp_path: Path):
    # An alias domain (addresses, no mailboxes) is a virtual_alias_domains member
    # only; publishing it again, or as a mailbox domain later, leaves one class.
    db = tmp_path / "r.sqlite"
    t = RoutingTable(db)
    t.publish_domain("b.example", "old:", [("x@b.example", "x@a.example")],
                     [("x@b.example", "/var/mail/x")])
    for _ in range(2):
        t.publish_alias_domain("B.example", [("x@b.example", "x@a.example"),
                                             ("@b.example", "y@a.example"),
                                             ("z@a.example", "z@a.example")])
        assert rows(db, "virtual_alias_domains") == [("b.example",)]
        assert rows(db, "domains") == rows(db, "transport") == rows(db, "old_mailbox") == []
        assert rows(db, "virtual_alias") == [("@b.example", "y@a.example"),
                                             ("x@b.example", "x@a.example")]
    assert t.is_alias_domain("b.EXAMPLE") and t.transport("b.example") is None
    t.publish_domain("b.example", "old:", [("x@b.example", "x@b.example")])
    assert not t.is_alias_domain("b.example")
    assert rows(db, "virtual_alias_domains") == []
    assert rows(db, "domains") == [("b.example",)]
    assert t.transport("b.example") == "old:"


def test_alias_domain_publication_is_all_or_nothing(tmp_path: Path):
    # The alias rows come from a generator that fails half way: the domain keeps
    # every row of its earlier publication, as if nothing had been tried.
    db = tmp_path / "r.sqlite"
    t = RoutingTable(db)
    t.publish_domain("b.example", "old:", [("x@b.example", "x@b.example")])
    before = {name: rows(db, name) for name in ("domains", "transport", "virtual_alias",
                                                 "virtual_alias_domains")}

    def failing():
        yield ("y@b.example", "y@a.example")
        raise OSError("the translation could not be read")

    with pytest.raises(OSError):
        t.publish_alias_domain("b.example", failing())
    assert {name: rows(db, name) for name in before} == before


def alias_site(root: Path) -> Path:
    """An old site with one mailbox domain (a.example, user ann) and one alias domain
    (b.example: virtusertable rows only, forwarding to ann and to an outside address)."""
    site = root / "site"
    (site / "etc/mail").mkdir(parents=True)
    (site / "var/mail").mkdir(parents=True)
    (site / "home/ann").mkdir(parents=True)
    (site / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n"
                                     "ann:x:3000:3000:Ann:/home/ann:/bin/bash\n")
    (site / "etc/mail/local-host-names").write_text("a.example\n")
    (site / "etc/mail/virtusertable").write_text("sales@b.example\tann\n"
                                                 "partner@b.example\tp@outside.example\n")
    (site / "var/mail/ann").write_text("")
    return site


def test_publish_puts_alias_domains_in_their_own_class(tmp_path: Path):
    from converters.finding import InputError
    from migrate.config import Config, PostfixConfig
    from migrate.cutover import cutover, publish
    from migrate.inventory import run_inventory
    from migrate.tracker import Domain, open_tracker

    db = tmp_path / "routing.sqlite"
    cfg = Config(site_root=alias_site(tmp_path), db_url=f"sqlite:///{tmp_path / 't.sqlite'}",
                 output_dir=tmp_path / "out",
                 postfix=PostfixConfig(routing_db=str(db), old_transport="old:"))
    # b.example as an earlier version published it: a relay domain with a transport
    RoutingTable(db).publish_domain("b.example", "old:", [])
    with open_tracker(cfg.db_url) as session:
        run_inventory(cfg, session)
        session.commit()
        a = session.query(Domain).filter_by(name="a.example").one()
        assert not session.query(Domain).filter_by(name="b.example").one().users
        detail = publish(cfg, session, a)
        assert "1 mailbox domain(s) and 1 alias domain(s)" in detail
        with pytest.raises(InputError, match="b.example is an alias domain"):
            cutover(cfg, session, "b.example")
    assert rows(db, "domains") == [("a.example",)]
    assert rows(db, "transport") == [("a.example", "old:")]
    assert rows(db, "virtual_alias_domains") == [("b.example",)]
    alias = dict(rows(db, "virtual_alias"))
    assert alias["sales@b.example"] == "ann@a.example"
    assert alias["partner@b.example"] == "p@outside.example"
    assert rows(db, "old_mailbox") == [("ann@a.example", str(cfg.site_root / "var/mail/ann"))]
