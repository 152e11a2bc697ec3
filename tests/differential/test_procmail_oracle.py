"""The procmail oracle itself, and the procmail facts the translation relies on."""

from __future__ import annotations

import pytest

from .procmail_oracle import available, run_procmail

pytestmark = pytest.mark.skipif(not available(), reason="procmail is not installed")

MESSAGE = (b"From bob@example.org Thu Dec  3 10:00:00 2026\n"
           b"From: Bob <bob@example.org>\nTo: alice@example.org\n"
           b"Subject: Python news\nMessage-ID: <1@example.org>\n\nHello\n")


def test_no_rule_goes_to_default() -> None:
    out = run_procmail(":0\n* ^Subject:.*nothing\nfolder\n", MESSAGE)
    assert out.inbox and not out.folders


def test_mbox_folder() -> None:
    out = run_procmail(":0:\n* ^Subject:.*python\nlists/python\n", MESSAGE, dirs=["lists"])
    assert out.folders == ("lists/python",) and not out.inbox


def test_missing_mbox_parent_falls_through() -> None:
    rc = ":0\n* ^Subject:.*python\nlists/python\n:0\nrescue\n"
    assert run_procmail(rc, MESSAGE).folders == ("rescue",)


def test_maildir_and_mh_are_created_but_not_their_parents() -> None:
    assert run_procmail(":0\nlists/py/\n", MESSAGE, dirs=["lists"]).folders == ("lists/py/",)
    assert run_procmail(":0\nlists/py/\n", MESSAGE).inbox
    assert run_procmail(":0\nmh/.\n", MESSAGE).folders == ("mh/.",)


def test_copy_flag_keeps_going() -> None:
    out = run_procmail(":0 c\n! carol@example.org\n", MESSAGE)
    assert out.forwards == ("carol@example.org",) and out.inbox


def test_dev_null_discards() -> None:
    assert run_procmail(":0\n/dev/null\n", MESSAGE).discarded


def test_to_macro_needs_an_address_boundary() -> None:
    assert run_procmail(":0\n* ^TO_alice@example.org\nhit\n", MESSAGE).folders == ("hit",)
    assert run_procmail(":0\n* ^TO_ice@example.org\nhit\n", MESSAGE).inbox
    assert run_procmail(":0\n* ^TOice@example.org\nhit\n", MESSAGE).inbox


def test_case_insensitive_unless_d() -> None:
    assert run_procmail(":0\n* ^subject:.*PYTHON\nhit\n", MESSAGE).folders == ("hit",)
    assert run_procmail(":0 D\n* ^subject:.*PYTHON\nhit\n", MESSAGE).inbox


def test_else_and_error_flags() -> None:
    rc = ":0\n* ^Subject:.*nomatch\na\n:0 E\nb\n"
    assert run_procmail(rc, MESSAGE).folders == ("b",)
    rc = ":0\n* ^Subject:.*python\nmissing/x\n:0 e\nrescued\n"
    assert run_procmail(rc, MESSAGE).folders == ("rescued",)


def test_autoreply_and_pipe_are_recorded() -> None:
    rc = (':0 hc\n| (formail -r; echo "away") | $SENDMAIL -oi -t\n'
          ":0\n| lpr\n")
    out = run_procmail(rc, MESSAGE)
    assert len(out.autoreplies) == 1 and "bob@example.org" in out.autoreplies[0]
    assert out.programs == ("lpr",) and not out.inbox


def test_host_mismatch_loses_the_message() -> None:
    out = run_procmail("HOST=elsewhere.invalid\n:0\nhit\n", MESSAGE)
    assert out.exit_code == 0 and not out.inbox and not out.folders


def test_absolute_sendmail_reaches_the_recorder() -> None:
    out = run_procmail("SENDMAIL=/usr/lib/sendmail\n:0\n! carol@example.org\n", MESSAGE)
    assert out.forwards == ("carol@example.org",) and not out.inbox


def test_marker_keeps_other_written_files_out() -> None:
    rc = "LOGFILE=$HOME/pm.log\n:0\nhit\n"
    assert set(run_procmail(rc, MESSAGE).folders) == {"pm.log", "hit"}
    assert run_procmail(rc, MESSAGE, marker=b"Message-ID: <1@example.org>").folders == ("hit",)


def test_folders_beside_the_spool_are_seen_with_their_old_path() -> None:
    # ${DEFAULT}.Spam/ (the Maildir++ habit) with DEFAULT=/var/mail/alice writes beside
    # the spool; the copy engine reads /var/mail/alice.Spam, so that is its name here.
    out = run_procmail(":0\n* ^Subject:.*python\n${DEFAULT}.Spam/\n", MESSAGE)
    assert out.folders == ("/var/mail/alice.Spam/",) and not out.inbox
    assert run_procmail(":0\n/var/mail/alice.lists\n", MESSAGE).folders == (
        "/var/mail/alice.lists",)


def test_a_forward_sender_option_is_not_a_recipient() -> None:
    out = run_procmail(":0\n! -f bob@example.org carol@example.org\n", MESSAGE)
    assert out.forwards == ("carol@example.org",)
