"""Exactly once under crashes and lost connections, on a generated multi-user site.

``samples/make_spools.py`` writes 4 users x 500 messages (size mix,
attachments, flags, pseudo messages); the users get random names.  The copy
is killed with SIGKILL at 20 seeded random moments: each is a target count
of ledger rows plus a random delay of up to 150 ms after it is reached, so
kills fall before the first batch, between the server's commit and the
ledger's, and in the middle of MULTIAPPEND batches.  After every kill the
copy is simply started again.  A lost connection is provoked by killing the
user's own imapd process (found in Cyrus's proc directory), never the
shared server.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from migrate.sitefs import on_disk
from tests.integration.conftest import REPO
from tests.integration.scratch import (
    ScratchSite,
    assert_exactly_copied,
    from_tree,
    imapd_of,
    remove,
)

pytestmark = [
    pytest.mark.servers,
    pytest.mark.filterwarnings("ignore:Credentials are sent over an unencrypted connection"),
]

SEED = 20_261_203
KILLS = 20


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("spools")
    subprocess.run([sys.executable, str(REPO / "samples/make_spools.py"), str(out),
                    "--users", "4", "--messages", "2000", "--seed", "5"],
                   check=True, capture_output=True)
    return out


def _site(tree: Path, prefix: str) -> ScratchSite:
    s = from_tree(tree, prefix)
    s.write_config(batch_messages=25)  # many batches: many moments to die in
    assert s.mm("inventory").rc == 0
    return s


def _ledger_rows(s: ScratchSite) -> int:
    try:
        with sqlite3.connect(s.root / "tracker.sqlite", timeout=0.05) as db:
            return db.execute("SELECT count(*) FROM messages").fetchone()[0]
    except sqlite3.OperationalError:  # locked by the copy's commit, or not created yet
        return -1


def _check_all_copied(s: ScratchSite, boxes: list[dict], expected: int) -> None:
    total = 0
    for b in boxes:
        total += assert_exactly_copied(s, b["user"], b["folder"],
                                       on_disk(s.site, b["source"]))
    assert total == expected


def test_sigkill_at_random_moments_then_rerun_copies_everything_once(tree: Path):
    s = _site(tree, "once")
    expected = sum(json.loads((tree / "manifest.json").read_text())["folders"].values())
    rng = random.Random(SEED)
    targets = sorted(rng.randrange(0, expected) for _ in range(KILLS))
    killed = 0
    try:
        for target in targets:
            proc = s.popen("copy", "--domain", s.domain, "--json")
            deadline = time.monotonic() + 60
            while proc.poll() is None and _ledger_rows(s) < target \
                    and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.15))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                killed += 1
            proc.communicate(timeout=60)
        assert killed >= KILLS // 2, f"only {killed} runs were still copying when killed"
        run = s.mm("copy", "--domain", s.domain, "--json")
        assert run.rc == 0, run.out + run.err
        boxes = run.json()["mailboxes"]
        assert all(b["complete"] for b in boxes)
        assert sum(b["source_messages"] for b in boxes) == expected
        _check_all_copied(s, boxes, expected)
        verify = s.mm("verify", "--domain", s.domain, "--json")
        assert verify.rc == 0, verify.out
    finally:
        remove(s)


def test_a_lost_connection_is_reconnected_and_reconciled(tree: Path):
    s = _site(tree, "lost")
    victim = s.users[0]
    rng = random.Random(SEED + 1)
    try:
        proc = s.popen("copy", "--domain", s.domain, "--json")
        pid = None
        deadline = time.monotonic() + 60
        while pid is None and proc.poll() is None and time.monotonic() < deadline:
            pid = next(iter(imapd_of(victim, selected=True)), None)
            time.sleep(0.002)
        assert pid is not None, "the copy never selected a folder of the user"
        time.sleep(rng.uniform(0, 0.1))
        os.kill(pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, out.decode() + err.decode()
        boxes = json.loads(out)["mailboxes"]
        assert sum(b["retries"] for b in boxes if b["user"] == victim) == 1
        assert all(b["complete"] for b in boxes)
        _check_all_copied(s, boxes, sum(b["source_messages"] for b in boxes))
    finally:
        remove(s)
