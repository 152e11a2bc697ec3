"""Opening the tracker: one engine per URL, schema created on first use."""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, inspect, make_url, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from converters.finding import InputError
from migrate.tracker.models import Base

_engines: dict[str, Engine] = {}


def _engine(url: str) -> Engine:
    """Create (once per process) the engine, and the schema if it is missing.

    A SQLite file is created with mode 0600: it holds every address and
    path of the site.  WAL mode and a busy timeout let a status command read
    while a copy writes.
    """
    if url in _engines:
        return _engines[url]
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.touch(mode=0o600)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
    else:
        try:
            engine = create_engine(url)
        except (ArgumentError, ImportError) as exc:
            # No such dialect, or its driver is not installed: the URL is at fault.
            raise InputError("tracker URL", None, f"cannot use {_shown(url)}: "
                             f"{type(exc).__name__}: {exc}") from None
    Base.metadata.create_all(engine)
    _add_new_columns(engine, url)
    _engines[url] = engine
    return engine


def _add_new_columns(engine: Engine, url: str) -> None:
    """Bring a tracker written by an earlier version up to date, in place.

    A migration in progress must not need a new tracker after an upgrade:
    columns added since are nullable, so ``ALTER TABLE ... ADD COLUMN`` is
    enough; a missing column that is not nullable is a version this one
    cannot read.
    """
    existing = inspect(engine)
    for table in Base.metadata.sorted_tables:
        have = {c["name"] for c in existing.get_columns(table.name)}
        for column in table.columns:
            if column.name in have:
                continue
            if not column.nullable:
                raise InputError("tracker", None, f"{_shown(url)} lacks column "
                                 f"{table.name}.{column.name}: it was made by another version")
            kind = column.type.compile(dialect=engine.dialect)
            with engine.begin() as conn:
                conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))


def _shown(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "an unparsable URL (expected e.g. sqlite:///FILE or postgresql://HOST/DB)"


@contextmanager
def open_tracker(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    factory = sessionmaker(_engine(url), expire_on_commit=False)
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def actor() -> str:
    """Who is acting, for the journal: the sudo caller if any, else the login user."""
    if os.environ.get("SUDO_USER"):
        return os.environ["SUDO_USER"]
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())
