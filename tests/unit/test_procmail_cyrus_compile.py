"""Cyrus itself accepts every generated script: compiled with its own sievec.

sievelib checks the grammar; Cyrus' sievec also checks that each extension
is required and that every :regex compiles with the server's regcomp.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from converters.procmail import convert_procmailrc, convert_user

SIEVEC = Path("/usr/lib/cyrus/bin/sievec")
CORPUS = Path(__file__).resolve().parents[1] / "data/corpus/procmailrc"
DATA = Path(__file__).parent.parent / "data" / "procmail"
EXTENSIONS = (
    "fileinto reject vacation vacation-seconds notify include envelope environment body "
    "relational regex subaddress copy date index imap4flags mailbox mboxmetadata "
    "servermetadata variables editheader extlists duplicate ihave fcc special-use "
    "redirect-dsn redirect-deliverby mailboxid vnd.cyrus.log snooze"
)

pytestmark = pytest.mark.skipif(not SIEVEC.exists(), reason="Cyrus sievec not installed")


def _compile(sieve: str, tmp: Path) -> tuple[int, str]:
    conf = tmp / "imapd.conf"
    conf.write_text(f"configdirectory: {tmp}\npartition-default: {tmp}\n"
                    f"sieve_extensions: {EXTENSIONS}\n")
    script = tmp / "script.sieve"
    script.write_text(sieve)
    proc = subprocess.run([str(SIEVEC), "-C", str(conf), str(script), str(tmp / "script.bc")],
                          capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def test_sievec_rejects_a_bad_regex(tmp_path: Path) -> None:
    code, _ = _compile('require "regex";\nif header :regex "s" "(" { keep; }\n', tmp_path)
    assert code != 0


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.procmailrc")) if CORPUS.is_dir() else [],
                         ids=lambda p: p.name)
def test_corpus_translation_compiles(path: Path, tmp_path: Path) -> None:
    home = tmp_path / "alice"
    (home / "Mail").mkdir(parents=True)
    (home / ".procmailrc").write_bytes(path.read_bytes())
    result = convert_procmailrc(home / ".procmailrc", user="alice", home=home)
    code, out = _compile(result.sieve, tmp_path)
    assert code == 0, out


@pytest.mark.parametrize("path", sorted(DATA.glob("*.rc")), ids=lambda p: p.stem)
def test_construct_translation_compiles(path: Path, tmp_path: Path) -> None:
    home = tmp_path / "alice"
    (home / "Mail" / "lists").mkdir(parents=True)
    (home / ".procmailrc").write_bytes(path.read_bytes())
    result = convert_user(user="alice", home=home, local_procmail=True)
    code, out = _compile(result.sieve, tmp_path)
    assert code == 0, out
