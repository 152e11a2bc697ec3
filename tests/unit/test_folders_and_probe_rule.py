"""The folder mapping shared by copy and Sieve, and the probe rule put into every script."""

from __future__ import annotations

import pytest
from sievelib.parser import Parser

from converters.folders import FolderMapping, spool_side_name
from migrate.sieve_upload import with_probe_rule


@pytest.mark.parametrize("rel,expected", [
    ("lists/python", "INBOX/lists/python"),
    ("inbox", "INBOX"),
    ("spam/", "INBOX/spam"),        # maildir suffix
    ("mh/.", "INBOX/mh"),           # MH suffix
    (".hidden/x", "INBOX/hidden/x"),  # Cyrus refuses leading dots
    ("", "INBOX"),
])
def test_default_mapping(rel: str, expected: str):
    assert FolderMapping().folder(rel) == expected


@pytest.mark.parametrize("path,expected", [
    ("/var/mail/alice.Spam/", "Spam"),          # ${DEFAULT}.Spam/ (maildir)
    ("/var/spool/mail/alice.lists-py", "lists-py"),
    ("/var/mail/alice.Spam/.", "Spam"),         # MH
    ("/var/mail/alice", None),                  # the spool itself
    ("/var/mail/alice.", None),
    ("/var/mail/alice.lock", None),             # the spool's lockfile
    ("/var/mail/alicex.Spam", None),            # another user's name
    ("/var/mail/bob.Spam", None),
    ("/home/alice/alice.Spam", None),
])
def test_spool_side_name(path: str, expected: str | None):
    assert spool_side_name("alice", path) == expected


def test_mapping_without_prefix():
    assert FolderMapping(prefix="").folder("Sent") == "Sent"


def test_probe_rule_goes_after_require_and_parses():
    script = 'require ["fileinto"];\n# a comment\nif header :is "x" "y" { fileinto "A"; }\n'
    out = with_probe_rule(script, "tok123")
    lines = out.splitlines()
    assert lines[0] == 'require ["fileinto"];'
    assert 'if header :is "X-Mailmigrate-Probe" "tok123" { keep; stop; }' in lines[2]
    assert Parser().parse(out)


def test_probe_rule_in_script_without_require():
    out = with_probe_rule("keep;\n", "t")
    assert out.splitlines()[1].startswith("if header")
    assert Parser().parse(out)
