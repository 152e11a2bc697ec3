"""The live Postfix routing tables, kept in an SQLite file that Postfix queries.

Postfix's ``sqlite:`` maps run one query per lookup against this file, so a
row changed here takes effect for the next message without ``postfix
reload``: that is how one domain is switched (or switched back) while the
rest of the site keeps flowing.  The tracker decides; this module only writes
rows, each change in one transaction so Postfix never sees half a domain.

A domain is published in one of two classes, never both (Postfix refuses to
route a domain listed in two address classes):

* a mailbox domain: a ``domains`` row (``relay_domains``) and a ``transport``
  row, the one the cutover switches;
* an alias domain, one with addresses but no mailboxes of its own: a
  ``virtual_alias_domains`` row and no transport.  Its addresses are
  rewritten by ``virtual_alias`` into other domains and follow their
  transports, and smtpd refuses every address without a row at RCPT time
  ("User unknown in virtual alias table"), as sendmail did, instead of
  accepting it and bouncing it later.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS domains (domain TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS transport (domain TEXT PRIMARY KEY, transport TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS virtual_alias (address TEXT PRIMARY KEY, target TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS old_mailbox (address TEXT PRIMARY KEY, path TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS virtual_alias_domains (domain TEXT PRIMARY KEY);
"""


class RoutingTable:
    """Read and write the per-domain rows Postfix routes by."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.executescript(SCHEMA)
        return conn

    def publish_domain(
        self,
        domain: str,
        transport: str,
        aliases: Iterable[tuple[str, str]],
        old_mailboxes: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Install a domain's address rows and its transport in one transaction.

        Only the alias rows whose address is in ``domain`` are replaced, so
        publishing one domain never touches another's rows.  A domain that was
        an alias domain stops being one in the same transaction.
        """
        suffix = "@" + domain.lower()
        with closing(self._connect()) as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM virtual_alias_domains WHERE domain = ?", (domain.lower(),))
            conn.execute("INSERT OR REPLACE INTO domains VALUES (?)", (domain.lower(),))
            conn.execute(
                "DELETE FROM virtual_alias WHERE lower(address) LIKE ?", ("%" + suffix,)
            )
            conn.executemany(
                "INSERT OR REPLACE INTO virtual_alias VALUES (?, ?)",
                [(a.lower(), t) for a, t in aliases if a.lower().endswith(suffix)],
            )
            conn.executemany(
                "INSERT OR REPLACE INTO old_mailbox VALUES (?, ?)",
                [(a.lower(), p) for a, p in old_mailboxes],
            )
            conn.execute(
                "INSERT OR REPLACE INTO transport VALUES (?, ?)", (domain.lower(), transport)
            )
            conn.execute("COMMIT")

    def publish_alias_domain(self, domain: str, aliases: Iterable[tuple[str, str]]) -> None:
        """Publish a domain that has addresses but no mailboxes, in one transaction.

        Such a domain is a ``virtual_alias_domains`` member, not a relay
        domain: its ``domains``, ``transport`` and ``old_mailbox`` rows (left
        by an earlier publication as a mailbox domain) go, and only its alias
        rows are replaced, as in :meth:`publish_domain`.
        """
        name = domain.lower()
        suffix = "@" + name
        with closing(self._connect()) as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM domains WHERE domain = ?", (name,))
            conn.execute("DELETE FROM transport WHERE domain = ?", (name,))
            conn.execute("DELETE FROM old_mailbox WHERE lower(address) LIKE ?", ("%" + suffix,))
            conn.execute(
                "DELETE FROM virtual_alias WHERE lower(address) LIKE ?", ("%" + suffix,)
            )
            conn.executemany(
                "INSERT OR REPLACE INTO virtual_alias VALUES (?, ?)",
                [(a.lower(), t) for a, t in aliases if a.lower().endswith(suffix)],
            )
            conn.execute("INSERT OR REPLACE INTO virtual_alias_domains VALUES (?)", (name,))
            conn.execute("COMMIT")

    def set_transport(self, domain: str, transport: str) -> None:
        """Point a domain at another transport: the cutover and rollback switch."""
        with closing(self._connect()) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO transport VALUES (?, ?)", (domain.lower(), transport)
            )

    def transport(self, domain: str) -> str | None:
        """The transport Postfix will use for ``domain`` now, or None."""
        with closing(self._connect()) as conn:
            row = conn.execute(
                "SELECT transport FROM transport WHERE domain = ?", (domain.lower(),)
            ).fetchone()
        return row[0] if row else None

    def is_alias_domain(self, domain: str) -> bool:
        """True when ``domain`` is published as an alias domain (no mailboxes, no transport)."""
        with closing(self._connect()) as conn:
            row = conn.execute(
                "SELECT 1 FROM virtual_alias_domains WHERE domain = ?", (domain.lower(),)
            ).fetchone()
        return row is not None
