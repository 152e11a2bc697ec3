"""The differential harness itself: procmail's inbox when DEFAULT is set, and restarts.

The oracle must call a delivery to the final $DEFAULT the inbox (that is
what the translation keeps), never write the host's real spools, and a
Cyrus restart during a run must start the run again instead of failing it.
"""

from __future__ import annotations

import pytest

from tests.differential import cyrus_engine
from tests.differential.procmail_oracle import available, run_procmail

MESSAGE = b"From a@example.net Thu Oct  1 10:00:00 2026\nSubject: x\nMessage-ID: <m1@t>\n\nhi\n"
needs_procmail = pytest.mark.skipif(not available(), reason="procmail is not installed")


def _run(rc: str):
    return run_procmail(rc, MESSAGE, dirs=["Mail"], marker=b"<m1@t>")


@needs_procmail
@pytest.mark.parametrize("rc", [
    "MAILDIR=$HOME/Mail\nDEFAULT=mbox\n",                       # relative to MAILDIR
    "MAILDIR=$HOME/Mail\nDEFAULT=$MAILDIR/mbox\n",              # corpus/001
    "MAILDIR=$HOME/Mail/\nDEFAULT=$MAILDIR\n",                  # corpus/021: a maildir
    "MAILDIR=$HOME/Mail\nDEFAULT=mbox\n:0\n* ^Subject: x\nmbox\n",  # named as a folder
])
def test_delivery_to_the_final_default_is_the_inbox(rc: str) -> None:
    out = _run(rc)
    assert (out.inbox, out.folders, out.exit_code) == (True, (), 0), out


@needs_procmail
def test_system_spool_in_the_rc_file_is_redirected_and_is_the_inbox() -> None:
    out = _run("DEFAULT=/var/mail/nosuchuser-differential\n")    # corpus/042's shape
    assert out.inbox and out.default is not None
    assert not out.default.startswith("/var/mail/")


@needs_procmail
def test_other_folders_stay_folders_when_default_is_set() -> None:
    out = _run("MAILDIR=$HOME/Mail\nDEFAULT=mbox\n:0\n* ^Subject: x\nlists\n")
    assert (out.inbox, out.folders) == (False, ("Mail/lists",))


def test_a_restart_during_a_run_starts_it_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # A real restart cannot be timed into a unit test; a step that fails the way
    # a reset connection does stands in for it.
    monkeypatch.setattr(cyrus_engine, "RETRY_PAUSE", 0)
    calls = []

    def step() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionResetError(104, "Connection reset by peer")
        return "done"

    assert cyrus_engine.retrying(step) == "done" and len(calls) == 3


def test_other_errors_are_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cyrus_engine, "RETRY_PAUSE", 0)
    calls = []

    def step() -> None:
        calls.append(1)
        raise FileNotFoundError("gone")

    with pytest.raises(FileNotFoundError):
        cyrus_engine.retrying(step)
    assert len(calls) == 1
