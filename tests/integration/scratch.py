"""Scratch old sites with random user names, for live tests that must not share Cyrus users.

The sandbox Cyrus is shared: every test here invents its own users (a random
suffix), gets its own domain name and tracker, and deletes its users again.
A site is just ``etc/passwd``, ``etc/mail/local-host-names`` (its one domain)
and the users' spools and folders; the sample site can be copied with its
users renamed.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from imapclient import IMAPClient
from prepare_site import config_text

from converters.mbox import read_folder
from tests.integration.conftest import REPO, SANDBOX_DIR, Run


def token() -> str:
    """A short random lower-case suffix for user and domain names."""
    return secrets.token_hex(4)


def start_sandbox() -> dict:
    """Start the sandbox if needed; return its servers.toml."""
    proc = subprocess.run([sys.executable, str(REPO / "samples/sandbox/sandbox.py"), "start",
                           "--dir", str(SANDBOX_DIR)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    return tomllib.loads((SANDBOX_DIR / "servers.toml").read_text())


@dataclass
class ScratchSite:
    """A site on disk, its config and tracker, and the Cyrus users it owns."""

    root: Path
    domain: str
    servers: dict
    users: list[str] = field(default_factory=list)
    extra_config: str = ""

    @property
    def site(self) -> Path:
        return self.root / "site"

    @property
    def config(self) -> Path:
        return self.root / "mailmigrate.toml"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.root / 'tracker.sqlite'}"

    def write_config(self, **cyrus: object) -> None:
        """(Re)write the config; keyword arguments override ``[cyrus]`` keys."""
        text = (SANDBOX_DIR / "servers.toml").read_text()
        for key, value in cyrus.items():
            text = text.replace("[cyrus]\n", f"[cyrus]\n{key} = {value!r}\n".replace("'", '"'))
        self.config.write_text(config_text(text))

    def add_user(self, name: str) -> Path:
        """Add a passwd entry; return the (old) home directory on disk."""
        passwd = self.site / "etc/passwd"
        uid = 3000 + len(self.users)
        with passwd.open("a") as fh:
            fh.write(f"{name}:x:{uid}:{uid}:{name},,,:/home/{name}:/bin/bash\n")
        self.users.append(name)
        home = self.site / "home" / name
        home.mkdir(parents=True, exist_ok=True)
        (self.site / "var/mail").mkdir(parents=True, exist_ok=True)
        return home

    def mm(self, *args: str, timeout: float = 600) -> Run:
        proc = subprocess.run([sys.executable, "-m", "migrate", "--config", str(self.config),
                               *args], capture_output=True, text=True, timeout=timeout,
                              cwd=REPO)
        return Run(proc.returncode, proc.stdout, proc.stderr)

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "migrate", "--config", str(self.config),
                                 *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                cwd=REPO)

    def imap(self, user: str | None = None) -> IMAPClient:
        cy = self.servers["cyrus"]
        client = IMAPClient(cy["host"], port=cy["imap_port"], ssl=False, timeout=60)
        client.plain_login(cy["admin"], Path(cy["password_file"]).read_text().strip(),
                           authorization_identity=user)
        return client

    def admin_command(self, *args: str) -> tuple[str, list]:
        """A raw admin command imapclient has no method for (SETQUOTA, DELETEACL)."""
        client = self.imap()
        try:
            return client._imap._simple_command(*args)
        finally:
            client.logout()

    def drop_users(self) -> None:
        """Delete this site's users from Cyrus (admin needs the delete right first)."""
        client = self.imap()
        admin = self.servers["cyrus"]["admin"]
        try:
            for name in self.users:
                box = f"user/{name}"
                if client.folder_exists(box):
                    client.setacl(box, admin, "lrswipkxtecda")
                    client.delete_folder(box)
        finally:
            client.logout()


def new_site(prefix: str = "mm") -> ScratchSite:
    """An empty scratch site with a random domain, under /var/tmp (servers must reach it)."""
    servers = start_sandbox()
    root = Path(tempfile.mkdtemp(prefix=f"mailmigrate-{prefix}-", dir="/var/tmp"))
    root.chmod(0o755)
    s = ScratchSite(root, f"{prefix}{token()}.example", servers)
    (s.site / "etc/mail").mkdir(parents=True)
    (s.site / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (s.site / "etc/mail/local-host-names").write_text(f"{s.domain}\n")
    s.write_config()
    return s


def from_tree(tree: Path, prefix: str) -> ScratchSite:
    """A scratch site holding the spools and folders of ``tree`` (etc/passwd, var/mail,
    home) with every user renamed to ``NAME`` + a random suffix."""
    s = new_site(prefix)
    suffix = token()
    for line in (tree / "etc/passwd").read_text().splitlines():
        parts = line.split(":")
        if len(parts) < 7 or not parts[2].isdigit() or not 1000 <= int(parts[2]) < 60000:
            continue
        if parts[6].endswith("nologin"):
            continue
        old = parts[0]
        new = f"{old}{suffix}"
        home = s.add_user(new)
        if (tree / "var/mail" / old).is_file():
            shutil.copy2(tree / "var/mail" / old, s.site / "var/mail" / new)
        if (tree / "home" / old).is_dir():
            shutil.rmtree(home)
            shutil.copytree(tree / "home" / old, home, symlinks=True)
    return s


def remove(s: ScratchSite) -> None:
    """Drop the users from Cyrus and the files from disk."""
    s.drop_users()
    shutil.rmtree(s.root, ignore_errors=True)


def target_state(s: ScratchSite, user: str, folder: str) -> list[tuple[str, frozenset, float]]:
    """(DIGEST.SHA1, flags, INTERNALDATE timestamp) of every message of a Cyrus folder."""
    client = s.imap(user)
    try:
        client.select_folder(folder, readonly=True)
        uids = client.search("ALL")
        got = client.fetch(uids, ["DIGEST.SHA1", "FLAGS", "INTERNALDATE"]) if uids else {}
    finally:
        client.logout()
    return [(d[b"DIGEST.SHA1"].decode(),
             frozenset(f.decode() for f in d[b"FLAGS"]) - {"\\Recent"},
             d[b"INTERNALDATE"].timestamp()) for d in got.values()]


def source_state(path: Path) -> list[tuple[str, frozenset, float]]:
    """What the target must hold for an mbox, per the reader: digest, flags, date."""
    # INTERNALDATE has whole seconds; a date taken from the file's mtime has fractions
    return [(m.sha1, frozenset(m.flags), float(int(m.internaldate.timestamp())))
            for m in read_folder(path)]


def assert_exactly_copied(s: ScratchSite, user: str, folder: str, path: Path) -> int:
    """Every message of ``path`` is in ``folder`` exactly once with its flags and date."""
    want = Counter(source_state(path))
    got = Counter(target_state(s, user, folder))
    assert got == want, (user, folder, want - got, got - want)
    return sum(want.values())


def imapd_of(user: str, selected: bool = False) -> list[int]:
    """Pids of the Cyrus imapd processes serving ``user`` (from Cyrus's proc directory:
    one file per process, ``service TAB client TAB user TAB mailbox``), or only those
    with a folder selected."""
    proc = SANDBOX_DIR / "cyrus/run/proc"
    pids = []
    for entry in proc.iterdir():
        try:
            fields = entry.read_text().split("\t")
        except OSError:
            continue
        if len(fields) < 4 or fields[2] != user or not re.fullmatch(r"\d+", entry.name):
            continue
        if fields[3] or not selected:
            pids.append(int(entry.name))
    return pids

