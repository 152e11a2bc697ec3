"""~/.forward handling in the user's script: forwards, \\user, procmail, vacation."""

from __future__ import annotations

from pathlib import Path

import pytest
from sievelib.parser import Parser

from converters.finding import InputError
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


def test_own_name_without_backslash_keeps_and_bare_names_are_reported(tmp_path: Path) -> None:
    # sendmail delivers the user's own name locally; 'bob' alone has no domain, and
    # Cyrus refuses the whole script for such a redirect.
    result = convert_user(user="alice", home=_home(tmp_path, "alice, bob, carol@example.org\n"))
    _valid(result.sieve)
    assert "discard;" not in result.sieve
    assert 'redirect :copy "carol@example.org";' in result.sieve
    assert 'redirect :copy "bob"' not in result.sieve
    assert [f.code for f in result.findings if f.severity == "warning"] == ["forward-address"]


def test_backslash_self_with_a_procmail_pipe_keeps_the_spool_copy(tmp_path: Path) -> None:
    # Without local_procmail sendmail delivers \alice to the spool *and* runs procmail.
    home = _home(tmp_path, '\\alice, "|/usr/bin/procmail"\n', ":0\n* ^Subject:.*x\n/dev/null\n")
    result = convert_user(user="alice", home=home)
    _valid(result.sieve)
    code = [ln.strip().split(";")[0] for ln in result.sieve.splitlines()
            if not ln.lstrip().startswith("#")]
    assert code.index("keep") < code.index("discard")


def test_procmail_options_with_arguments_are_not_the_rc_file(tmp_path: Path) -> None:
    for n, forward in enumerate(('"|/usr/bin/procmail -a list"\n', '"|procmail -f alice"\n')):
        (tmp_path / str(n)).mkdir()
        home = _home(tmp_path / str(n), forward, ":0\n* ^Subject:.*x\n/dev/null\n")
        result = convert_user(user="alice", home=home)
        assert (result.recipes_total, result.recipes_translated) == (1, 1), forward


def test_own_address_in_forward_is_local_delivery(tmp_path: Path) -> None:
    # sendmail resolves an entry naming one of the user's own addresses back to the
    # user and, seeing the self-reference, delivers locally; a redirect there would
    # send the message back into this same script, again and again
    fwd = "Alice@Example.ORG, <a.smith@example.net>, bob@example.org\n"
    result = convert_user(user="alice", home=_home(tmp_path, fwd),
                          addresses=("alice@example.org", "a.smith@example.net"))
    _valid(result.sieve)
    assert result.sieve.count("redirect") == 1
    assert 'redirect :copy "bob@example.org";' in result.sieve
    assert "discard;" not in result.sieve


def test_other_users_address_in_forward_is_a_redirect(tmp_path: Path) -> None:
    result = convert_user(user="alice", home=_home(tmp_path, "alice@example.com\n"),
                          addresses=("alice@example.org",))
    assert 'redirect :copy "alice@example.com";' in result.sieve
    assert result.sieve.rstrip().splitlines()[-1].startswith("discard;")


def test_procmail_assignments_in_forward_are_set_before_the_rc(tmp_path: Path) -> None:
    # procmail VAR=value sets VAR before the rc file runs (checked with procmail 3.23:
    # DEFAULT=/dev/null on the command line throws away what no rule files)
    fwd = '"|/usr/bin/procmail DEFAULT=/dev/null MAILDIR=/home/alice/Mail"\n'
    rc = ":0\n* ^Subject:.*money\nmoney\n"
    home = _home(tmp_path, fwd, rc)
    (home / "Mail").mkdir()
    result = convert_user(user="alice", home=home)
    _valid(result.sieve)
    assert 'fileinto "INBOX/money";' in result.sieve
    assert result.sieve.rstrip().splitlines()[-2].startswith("discard;")


def test_forward_whose_only_entry_was_not_carried_over_keeps_the_mail(tmp_path: Path) -> None:
    # a discard would throw away mail that, on the old host, went somewhere
    result = convert_user(user="alice", home=_home(tmp_path, "|/usr/local/bin/archive\n"))
    _valid(result.sieve)
    assert "discard" not in result.sieve
    assert {f.code for f in result.findings} >= {"forward-pipe", "forward-kept"}


def test_binary_forward_is_unusable(tmp_path: Path) -> None:
    home = tmp_path / "alice"
    home.mkdir()
    (home / ".forward").write_bytes(b"\x00\x17\xff" * 100)
    with pytest.raises(InputError, match="binary"):
        convert_user(user="alice", home=home)


def test_procmail_ignores_includerc_and_switchrc_given_on_its_command_line(
        tmp_path: Path) -> None:
    fwd = '"|/usr/bin/procmail SWITCHRC= INCLUDERC=/home/alice/inc.rc"\n'
    rc = ":0\n* ^Subject:.*money\nmoney\n"
    result = convert_user(user="alice", home=_home(tmp_path, fwd, rc, **{"inc.rc": ":0\nx\n"}))
    assert 'fileinto "INBOX/money";' in result.sieve
    assert "stop;  #" not in result.sieve.split("money")[0]
    assert 'fileinto "INBOX/x"' not in result.sieve


def test_procmail_default_on_its_command_line_holds_without_an_rc_file(tmp_path: Path) -> None:
    result = convert_user(user="alice", home=_home(tmp_path, '"|procmail DEFAULT=/dev/null"\n'))
    assert result.sieve.rstrip().splitlines()[-2].startswith("discard;")


def test_an_rc_file_outside_the_home_named_in_forward_is_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside.rc"
    outside.write_text(":0\n* ^Subject:.*money\nSECRET\n")
    result = convert_user(user="alice", home=_home(tmp_path, f'"|procmail {outside}"\n'))
    assert "SECRET" not in result.sieve
    assert any(f.code == "procmail-include" for f in result.findings)
