"""Rules Sieve cannot carry over exactly are reported and counted untranslated.

Each case is one the differential harness (real procmail against real
Cyrus) showed disagreeing: a size limit, a test of a header's text (RFC 2047
decoding), an automatic reply.  None of them may come out as a weaker rule.
"""

from __future__ import annotations

from pathlib import Path

from converters.procmail import convert_procmailrc, convert_user
from converters.procmail.regex import pattern_test
from migrate.convert import user_addresses


def _convert(tmp_path: Path, rc: str, **kw):
    home = tmp_path / "alice"
    home.mkdir()
    (home / ".procmailrc").write_text(rc)
    return convert_procmailrc(home / ".procmailrc", user="alice", home=home, **kw)


def _warnings(result, code: str) -> list:
    return [f for f in result.findings if f.severity == "warning" and f.code == code]


def test_size_condition_is_reported_not_translated(tmp_path: Path) -> None:
    result = _convert(tmp_path, ":0\n* < 500\n/dev/null\n")
    assert (result.recipes_total, result.recipes_translated) == (1, 0)
    assert result.untranslated == (("/home/alice/.procmailrc", 1),)
    [finding] = _warnings(result, "procmail-untranslated")
    assert "CRLF" in finding.reason and "size :under 500" in finding.reason
    code = [ln for ln in result.sieve.splitlines() if not ln.lstrip().startswith("#")]
    assert not any("size" in ln or "discard" in ln for ln in code), result.sieve


def test_header_text_test_is_only_the_nearest_because_sieve_decodes_rfc2047() -> None:
    # 'Python ü news' base64-encoded: procmail's raw bytes hold no "python",
    # Cyrus' decoded value does, so no header test answers like procmail: the
    # nearest test is kept (the user's filing keeps working) and marked approximate.
    result = pattern_test("^Subject:.*python", header=True, body=False, case_sensitive=False)
    assert result.test == 'header :contains "Subject" "python"'
    assert "RFC 2047" in result.approx and not result.reason


def test_to_macro_and_from_daemon_are_header_text_tests_too() -> None:
    for rx in ("^TO_alice@example.org", "^FROM_DAEMON", "^Subject:.*a|^From:.*b"):
        result = pattern_test(rx, header=True, body=False, case_sensitive=False)
        assert result.test and "RFC 2047" in result.approx, rx


def test_approximate_rule_is_emitted_reported_and_not_counted(tmp_path) -> None:
    rc = tmp_path / "rc"
    rc.write_text(":0\n* ^Subject:.*\\[atlas\\]\nprojects\n")
    (tmp_path / "projects").write_text("")
    conv = convert_procmailrc(rc, user="erin", home=tmp_path, maildir=tmp_path)
    assert 'if header :contains "Subject" "[atlas]"' in conv.sieve
    assert 'fileinto "INBOX/projects"' in conv.sieve
    assert (conv.recipes_total, conv.recipes_translated) == (1, 0)
    assert [f.code for f in conv.findings if f.severity == "warning"] == ["procmail-approximate"]


def test_header_presence_and_envelope_and_body_tests_stay_exact() -> None:
    for rx, expected in (("^Subject:", 'exists "Subject"'),
                         ("^X-Spam-Flag:.*", 'exists "X-Spam-Flag"'),
                         ("^From .*daemon", 'envelope :all :contains "from" "daemon"')):
        result = pattern_test(rx, header=True, body=False, case_sensitive=False)
        assert result.test == expected, rx
    body = pattern_test("money", header=False, body=True, case_sensitive=False)
    assert body.test == 'body :raw :contains "money"'


def test_envelope_presence_is_not_a_header_exists() -> None:
    result = pattern_test("^From ", header=True, body=False, case_sensitive=False)
    assert result.test == 'envelope :all :matches "from" "*"'


def test_formail_autoreply_is_reported_with_the_users_addresses(tmp_path: Path) -> None:
    rc = ':0 c\n* B ?? question\n| (formail -rt; echo "Thanks.") | $SENDMAIL -oi -t\n'
    result = _convert(tmp_path, rc, addresses=("alice@example.org", "info@example.org"))
    assert result.recipes_translated == 0
    assert "vacation" not in result.sieve.split("\n", 1)[0]
    [finding] = _warnings(result, "procmail-vacation")
    assert "To/Cc/Bcc" in finding.reason
    assert ':addresses ["alice@example.org", "info@example.org"]' in finding.suggestion


def test_forward_vacation_names_the_users_addresses(tmp_path: Path) -> None:
    home = tmp_path / "alice"
    home.mkdir()
    (home / ".forward").write_text('\\alice, "|/usr/bin/vacation alice"\n')
    result = convert_user(user="alice", home=home, addresses=("alice@example.org",))
    assert ':addresses "alice@example.org"' in result.sieve


def test_user_addresses_from_the_old_tables() -> None:
    reached = {"example.org": ["info@example.org", "office", "@example.org"],
               "example.net": ["Abuse@Example.NET"]}
    assert user_addresses("carol", "example.org", reached) == (
        "abuse@example.net", "carol@example.org", "info@example.org", "office@example.org")
