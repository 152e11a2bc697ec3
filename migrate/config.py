"""The TOML configuration, read once into frozen dataclasses.

One file names the old site, the tracker database, the output directory and
the new servers.  Secrets are never in it: the Cyrus admin password comes from
``password_file`` or the ``MAILMIGRATE_CYRUS_PASSWORD`` environment variable,
so it never appears in argv, in ``ps`` or in a log.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from converters.finding import InputError
from converters.folders import FolderMapping

PASSWORD_ENV = "MAILMIGRATE_CYRUS_PASSWORD"


@dataclass(frozen=True)
class CyrusConfig:
    """How to reach the Cyrus backend as its admin."""

    host: str = "127.0.0.1"
    imap_port: int = 143
    sieve_port: int = 4190
    admin: str = "cyrus"
    password_file: str = ""
    lmtp_transport: str = "lmtp:unix:/run/cyrus/socket/lmtp"
    outbox: str = ""
    ssl: bool = False
    starttls: bool = False
    connections: int = 4
    batch_messages: int = 200
    batch_bytes: int = 8 * 1024 * 1024

    def password(self) -> str:
        """The admin password, from the environment or the password file."""
        if os.environ.get(PASSWORD_ENV):
            return os.environ[PASSWORD_ENV]
        if not self.password_file:
            raise InputError("config", None, f"no Cyrus admin password: set {PASSWORD_ENV} "
                             "or [cyrus] password_file")
        try:
            return Path(self.password_file).read_text().strip()
        except OSError as exc:
            raise InputError(self.password_file, None, f"cannot read password file: {exc}") from exc


@dataclass(frozen=True)
class PostfixConfig:
    """The Postfix instance whose routing tables the tracker maintains."""

    config_dir: str = "/etc/postfix"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    routing_db: str = "/var/lib/mailmigrate/routing.sqlite"
    old_transport: str = "smtp:[old-mx.example.org]:25"
    hold_transport: str = "retry:4.3.2 mailbox migration in progress"
    #: Postfix's queue manager reuses the route of an address it resolved in
    #: the last 30 s, so a routing change is waited out before relying on it.
    settle_seconds: float = 31.0


@dataclass(frozen=True)
class Config:
    """Everything a command needs to know about the site and the servers."""

    site_root: Path
    db_url: str
    output_dir: Path
    cyrus: CyrusConfig = field(default_factory=CyrusConfig)
    postfix: PostfixConfig = field(default_factory=PostfixConfig)
    mapping: FolderMapping = field(default_factory=FolderMapping)
    home_domains: dict[str, str] = field(default_factory=dict)
    source: str = ""


def _key_lines(text: str) -> dict[tuple[str, str], int]:
    """(section, key) -> line of the config file, so an error can name the line."""
    lines: dict[tuple[str, str], int] = {}
    section = ""
    for number, line in enumerate(text.splitlines(), 1):
        head = re.match(r"\s*\[\s*([^\]]+?)\s*\]", line)
        key = re.match(r"\s*([A-Za-z0-9_-]+)\s*=", line)
        if head:
            section = head.group(1)
        elif key:
            lines.setdefault((section, key.group(1)), number)
    return lines


def _section(data: dict, name: str, cls: type, source: str,
             lines: dict[tuple[str, str], int]):
    raw = data.get(name, {})
    if not isinstance(raw, dict):
        raise InputError(source, lines.get(("", name)), f"[{name}] must be a table")
    known = set(cls.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise InputError(source, lines.get((name, unknown[0])),
                         f"[{name}]: unknown key(s) {', '.join(unknown)}")
    for key, value in raw.items():
        _check_type(source, f"[{name}] {key}", value, cls.__dataclass_fields__[key].type,
                    lines.get((name, key)))
    return cls(**raw)


def _check_type(source: str, what: str, value: object, annotation: object,
                line: int | None = None) -> None:
    """Refuse a value of the wrong TOML type (a port given as "143", a path as 5).

    Without this the wrong type surfaces much later, deep in a socket or path
    call, as a traceback instead of a line naming the key.
    """
    wanted = {"str": str, "int": int, "float": (int, float), "bool": bool}.get(str(annotation))
    if wanted is None:
        return
    if isinstance(value, bool) and wanted is not bool or not isinstance(value, wanted):
        raise InputError(source, line, f"{what} must be {_TYPE_WORDS[str(annotation)]}, "
                         f"not {type(value).__name__} {value!r}")
    if str(annotation) == "int" and value < 1:
        # Every whole number here is a port, a count or a size: 0 means nothing works.
        raise InputError(source, line, f"{what} must be at least 1, not {value}")


_TYPE_WORDS = {"str": "a string", "int": "a whole number", "float": "a number",
               "bool": "true or false"}


def load_config(path: Path | None, db_override: str | None = None) -> Config:
    """Read the TOML file; relative paths in it are relative to the file itself.

    Unknown keys are errors, because a misspelt key silently falling back to
    a default (say, the production Postfix) is worse than a refusal.
    """
    data: dict = {}
    lines: dict[tuple[str, str], int] = {}
    base = Path.cwd()
    source = "(defaults)"
    if path is not None:
        source = str(path)
        raw = b""
        try:
            raw = path.read_bytes()
            data = tomllib.loads(raw.decode("utf-8"))
            lines = _key_lines(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise InputError(source, raw[: exc.start].count(b"\n") + 1,
                             "not UTF-8 text: a TOML file must be UTF-8") from exc
        except OSError as exc:
            raise InputError(source, None, f"cannot read config: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            pos = re.search(r"line (\d+), column (\d+)", str(exc))
            line, col = (int(pos.group(1)), int(pos.group(2))) if pos else (None, None)
            raise InputError(source, line, f"bad TOML: {exc}", column=col) from exc
        base = path.resolve().parent

    def resolve(value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else base / p

    site = data.get("site", {})
    tracker = data.get("tracker", {})
    output = data.get("output", {})
    for name, table in (("site", site), ("tracker", tracker), ("output", output),
                        ("home_domains", data.get("home_domains", {}))):
        if not isinstance(table, dict):
            raise InputError(source, lines.get(("", name)), f"[{name}] must be a table")
        for key, value in table.items():
            _check_type(source, f"[{name}] {key}", value, "str", lines.get((name, key)))
    if "root" not in site:
        raise InputError(source, None, "[site] root is required (the old server's file tree)")
    db_url = db_override or tracker.get("db") or f"sqlite:///{resolve('mailmigrate.db')}"
    if db_url.startswith("sqlite:///") and not db_url.startswith("sqlite:////"):
        db_url = f"sqlite:///{resolve(db_url[len('sqlite:///'):])}"
    cyrus = _section(data, "cyrus", CyrusConfig, source, lines)
    if cyrus.password_file:
        cyrus = replace(cyrus, password_file=str(resolve(cyrus.password_file)))
    postfix = _section(data, "postfix", PostfixConfig, source, lines)
    postfix = replace(postfix, config_dir=str(resolve(postfix.config_dir)),
                      routing_db=str(resolve(postfix.routing_db)))
    mapping = _section(data, "folders", FolderMapping, source, lines)
    return Config(
        site_root=resolve(site["root"]),
        db_url=db_url,
        output_dir=resolve(output.get("dir", "mailmigrate-out")),
        cyrus=cyrus,
        postfix=postfix,
        mapping=mapping,
        home_domains=dict(data.get("home_domains", {})),
        source=source,
    )
