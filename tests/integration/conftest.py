"""Fixtures for tests that run the mailmigrate command against the sandbox servers.

The sandbox (samples/sandbox/sandbox.py) is started if it does not run yet.
Each module gets a scratch copy of the sample site under /var/tmp (the
servers run as their own users and cannot enter pytest's 0700 temp dirs),
its own tracker, and the sample users deleted from Cyrus first, so every
run starts from the same empty target.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from imapclient import IMAPClient
from prepare_site import mail_users, prepare, reset_cyrus  # samples/: pytest pythonpath

REPO = Path(__file__).resolve().parents[2]

SANDBOX_DIR = Path(os.environ.get("MAILMIGRATE_SANDBOX") or "/var/tmp/mailmigrate-sandbox")


@dataclass
class Run:
    """The result of one ``mailmigrate`` invocation."""

    rc: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


@dataclass
class Site:
    """A prepared scratch site and how to drive mailmigrate and the servers on it."""

    root: Path
    config: Path
    servers: dict

    @property
    def site(self) -> Path:
        return self.root / "site"

    def mm(self, *args: str, timeout: float = 600) -> Run:
        """Run the real console entry point in a child process."""
        proc = subprocess.run([sys.executable, "-m", "migrate", "--config", str(self.config),
                               *args], capture_output=True, text=True, timeout=timeout,
                              cwd=REPO)
        return Run(proc.returncode, proc.stdout, proc.stderr)

    def imap(self, user: str | None = None) -> IMAPClient:
        cy = self.servers["cyrus"]
        client = IMAPClient(cy["host"], port=cy["imap_port"], ssl=False, timeout=60)
        pw = Path(cy["password_file"]).read_text().strip()
        client.plain_login(cy["admin"], pw, authorization_identity=user)
        return client

    def send(self, to: str, subject: str, headers: dict[str, str] | None = None,
             sender: str = "Tester <tester@test.example.com>") -> str:
        """Send a message to Postfix by SMTP; return its Message-ID."""
        msg = EmailMessage()
        msgid = f"<{re.sub(r'[^A-Za-z0-9]+', '-', subject)}-{time.time_ns()}@test.example.com>"
        msg["From"] = sender
        msg["To"] = to
        msg["Subject"] = subject
        msg["Message-ID"] = msgid
        for k, v in (headers or {}).items():
            msg[k] = v
        msg.set_content(f"{subject}\n")
        pf = self.servers["postfix"]
        with smtplib.SMTP(pf["smtp_host"], pf["smtp_port"], timeout=30) as smtp:
            smtp.send_message(msg, from_addr="tester@test.example.com", to_addrs=[to])
        return msgid


def wait_for(predicate: Callable[[], object], timeout: float = 90, step: float = 0.5):
    """Poll until ``predicate`` returns something true; return it (or fail)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(step)


@pytest.fixture(scope="module")
def sample_site() -> Iterator[Site]:
    """A fresh scratch copy of samples/site wired to the running sandbox."""
    proc = subprocess.run([sys.executable, str(REPO / "samples/sandbox/sandbox.py"), "start",
                           "--dir", str(SANDBOX_DIR)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    root = Path(tempfile.mkdtemp(prefix="mailmigrate-test-", dir="/var/tmp"))
    config = prepare(root, REPO / "samples/site", SANDBOX_DIR)
    reset_cyrus(SANDBOX_DIR, mail_users(REPO / "samples/site"))
    servers = tomllib.loads((SANDBOX_DIR / "servers.toml").read_text())
    yield Site(root, config, servers)
    shutil.rmtree(root, ignore_errors=True)
