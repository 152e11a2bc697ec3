"""~/.forward handling in the user's script: forwards, \\user, procmail, vacation."""

from __future__ import annotations

from pathlib import Path

from sievelib.parser import Parser

from converters.procmail import convert_user


def _home(tmp_path: Path, forward: str | None, rc: str | None = None, **files: str) -> Path:
    home = tmp_path / "alice"
    home.mkdir()
    if forward is not None:
        (home / ".forward").write_text(forward)
    if rc is not None:
        (home / ".procmailrc").write_text(rc)
    for name, text in files.items():
        (home / name).write_text(text)
    return home


def _valid(sieve: str) -> None:
    parser = Parser()
    assert parser.parse(sieve), parser.error


def test_plain_forward_does_not_keep(tmp_path: Path) -> None:
    result = convert_user(user="alice", home=_home(tmp_path, "bob@example.org\n"))
    _valid(result.sieve)
    assert 'redirect :copy "bob@example.org";' in result.sieve
    assert result.sieve.rstrip().splitlines()[-1].startswith("discard;")


def test_backslash_self_keeps(tmp_path: Path) -> None:
    result = convert_user(user="alice", home=_home(tmp_path, "\\alice, bob@example.org\n"))
    _valid(result.sieve)
    assert 'redirect :copy "bob@example.org";' in result.sieve
    assert "discard;" not in result.sieve


def test_procmail_invocation_runs_the_rc(tmp_path: Path) -> None:
    fwd = '"|IFS=\' \' && exec /usr/bin/procmail -f- || exit 75 #alice"\n'
    rc = ":0\n* B ?? spam\n/dev/null\n"
    result = convert_user(user="alice", home=_home(tmp_path, fwd, rc))
    _valid(result.sieve)
    assert 'body :raw :contains "spam"' in result.sieve
    assert result.recipes_total == 1
    assert "redirect" not in result.sieve


def test_rc_without_procmail_in_the_path_is_reported(tmp_path: Path) -> None:
    rc = ":0\n* B ?? spam\n/dev/null\n"
    result = convert_user(user="alice", home=_home(tmp_path, None, rc))
    assert "spam" not in result.sieve
    assert [f.code for f in result.findings] == ["procmail-unused"]
    result = convert_user(user="alice", home=tmp_path / "alice", local_procmail=True)
    assert 'body :raw :contains "spam"' in result.sieve


def test_vacation_program_uses_vacation_msg(tmp_path: Path) -> None:
    home = _home(tmp_path, '\\alice, "|/usr/bin/vacation alice"\n')
    (home / ".vacation.msg").write_text("Subject: away\n\nBack on Monday.\n")
    result = convert_user(user="alice", home=home)
    _valid(result.sieve)
    assert 'vacation :days 7 :subject "away" "Back on Monday.\n";' in result.sieve
    assert "discard" not in result.sieve


def test_old_home_paths_resolve_into_the_copied_tree(tmp_path: Path) -> None:
    home = _home(tmp_path, None, "MAILDIR=/home/alice/Mail\n:0\n* B ?? x\nlists/x\n")
    (home / "Mail" / "lists").mkdir(parents=True)
    result = convert_user(user="alice", home=home, local_procmail=True)
    assert 'fileinto "INBOX/lists/x";' in result.sieve
    assert result.folders == ("INBOX/lists/x",)
    other = convert_user(user="alice", home=home, local_procmail=True, old_home="/u/alice")
    assert "fileinto" not in other.sieve
    assert any(f.code == "procmail-folder-outside" for f in other.findings)
