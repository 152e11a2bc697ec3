"""SQLAlchemy tables of the tracker.

The tracker is what makes a migration resumable and a rollback possible: it
remembers, per source message, where it went in Cyrus (UIDVALIDITY + UID),
per domain which stage it reached, and every transition with who did it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    """Timestamps are stored in UTC so journals from several hosts line up."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of every tracker table."""


class Domain(Base):
    """A mail domain: the unit of a staged cutover."""

    __tablename__ = "domains"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # local | virtual
    state: Mapped[str] = mapped_column(String(32), default="inventoried")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    users: Mapped[list[User]] = relationship(back_populates="domain", order_by="User.name")
    transitions: Mapped[list[Transition]] = relationship(
        back_populates="domain", order_by="Transition.id"
    )


class User(Base):
    """A mail user; migrates with exactly one (home) domain."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id"))
    old_home: Mapped[str] = mapped_column(Text)
    domain: Mapped[Domain] = relationship(back_populates="users")
    mailboxes: Mapped[list[Mailbox]] = relationship(
        back_populates="user", order_by="Mailbox.source"
    )
    script: Mapped[FilterScript | None] = relationship(back_populates="user")


class Mailbox(Base):
    """One source mbox file and the Cyrus folder it is copied into."""

    __tablename__ = "mailboxes"
    __table_args__ = (UniqueConstraint("user_id", "source"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(Text)  # old absolute path, e.g. /var/mail/alice
    folder: Mapped[str] = mapped_column(Text)  # IMAP name, e.g. INBOX/lists/python
    source_messages: Mapped[int] = mapped_column(Integer, default=0)
    source_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    copied_messages: Mapped[int] = mapped_column(Integer, default=0)
    scanned_to: Mapped[int] = mapped_column(BigInteger, default=0)  # byte offset read so far
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # the file's stamp (migrate.source_check.file_stamp) when a complete copy pass read it
    # unchanged: while it still matches, verify may trust the ledger's SHA-1s
    source_stamp: Mapped[str | None] = mapped_column(String(120), nullable=True)
    user: Mapped[User] = relationship(back_populates="mailboxes")


class Message(Base):
    """One source message and where it went: the exactly-once ledger."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("mailbox_id", "offset"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id"), index=True)
    offset: Mapped[int] = mapped_column(BigInteger)
    length: Mapped[int] = mapped_column(BigInteger)
    sha1: Mapped[str] = mapped_column(String(40), index=True)
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    uid: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    origin: Mapped[str] = mapped_column(String(16), default="copy")  # copy | rollback
    #: The Cyrus folder holding ``uid`` when it is not the mailbox's own folder: a
    #: rollback row's mailbox is the old mbox the message went back to.  UIDVALIDITY
    #: alone does not name a folder: Cyrus gives every folder a user creates within
    #: one second the same one.
    cyrus_folder: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: A rollback row's SHA-1 of the message as the mbox reader reads the returned copy
    #: back (``sha1`` is Cyrus's): an mbox cannot hold every message byte for byte (the
    #: delivery agent quotes body lines ``From ``, ends the last line), so verify and a
    #: resync know the returned copy by this digest.  None in rows of older versions.
    mbox_sha1: Mapped[str | None] = mapped_column(String(40), nullable=True)


class FolderMark(Base):
    """UIDNEXT of a user's Cyrus folder at the moment the domain was switched.

    Everything at or above the mark arrived through the new system, so a
    rollback returns exactly those messages to the old spool.
    """

    __tablename__ = "folder_marks"
    __table_args__ = (UniqueConstraint("user_id", "folder"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    folder: Mapped[str] = mapped_column(Text)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uidnext: Mapped[int] = mapped_column(BigInteger)


class FilterScript(Base):
    """A user's translated Sieve script and whether it is live in Cyrus."""

    __tablename__ = "filter_scripts"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    sieve: Mapped[str] = mapped_column(Text)
    sha1: Mapped[str] = mapped_column(String(40))
    folders: Mapped[str] = mapped_column(Text, default="")  # newline-separated
    recipes_total: Mapped[int] = mapped_column(Integer, default=0)
    recipes_translated: Mapped[int] = mapped_column(Integer, default=0)
    uploaded_sha1: Mapped[str | None] = mapped_column(String(40), nullable=True)
    user: Mapped[User] = relationship(back_populates="script")


class FindingRow(Base):
    """A stored Finding, tagged with the stage and the user/domain it concerns."""

    __tablename__ = "findings"
    id: Mapped[int] = mapped_column(primary_key=True)
    stage: Mapped[str] = mapped_column(String(32))  # inventory | convert | copy | cutover
    domain: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    user: Mapped[str | None] = mapped_column(String(255), nullable=True)
    severity: Mapped[str] = mapped_column(String(16))
    file: Mapped[str] = mapped_column(Text)
    line: Mapped[int | None] = mapped_column(Integer, nullable=True)
    text: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text)
    suggestion: Mapped[str] = mapped_column(Text, default="")
    code: Mapped[str] = mapped_column(String(16), default="")
    subject: Mapped[str] = mapped_column(Text, default="")


class Transition(Base):
    """The journal: every cutover/rollback step, with when, what, who and the result."""

    __tablename__ = "transitions"
    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    from_state: Mapped[str] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(255))
    result: Mapped[str] = mapped_column(String(16))  # ok | failed
    detail: Mapped[str] = mapped_column(Text, default="")
    domain: Mapped[Domain] = relationship(back_populates="transitions")
