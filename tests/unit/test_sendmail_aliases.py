"""aliases parsed as sendmail 8.17's alias.c does, one test per trap."""

from __future__ import annotations

from converters.sendmail.aliases import AliasTarget, classify, parse_aliases
from converters.sendmail.textfile import decode_lines


def parse(text: str):
    aliases, findings = parse_aliases(decode_lines("/etc/mail/aliases", text.encode()))
    return {a.name: a for a in aliases}, findings


def values(alias) -> list[str]:
    return [t.value for t in alias.targets]


def codes(findings) -> list[str]:
    return [f.code for f in findings]


def test_leading_whitespace_continues():
    aliases, findings = parse("staff: alice,\n\tbob,\n  carol\n")
    assert values(aliases["staff"]) == ["alice", "bob", "carol"]
    assert findings == ()


def test_backslash_joins_without_separator():
    aliases, findings = parse("team: dave, \\\nerin@virt.example.com\nx: y\n")
    assert values(aliases["team"]) == ["dave", "erin@virt.example.com"]
    assert codes(findings) == ["SM024"] and findings[0].line == 1


def test_backslash_inside_word_glues_the_halves():
    aliases, _ = parse("glue: ali\\\nce\n")
    assert values(aliases["glue"]) == ["alice"]


def test_indented_hash_is_part_of_the_value():
    aliases, findings = parse("listx: alice,\n  # old member: gina\n  carol\n")
    kinds = [t.kind for t in aliases["listx"].targets]
    assert kinds[0] == "local" and "comment" in kinds
    assert [f.line for f in findings if f.code == "SM025"] == [2]


def test_comment_in_column_one_closes_the_alias():
    aliases, findings = parse("a: b,\n# comment\n\tc\n")
    assert values(aliases["a"]) == ["b"]
    assert [(f.code, f.line) for f in findings] == [("SM020", 3)]


def test_blank_line_closes_the_alias():
    aliases, findings = parse("a: b\n\n  c\n")
    assert values(aliases["a"]) == ["b"]
    assert codes(findings) == ["SM020"]


def test_names_fold_values_keep_remote_case():
    aliases, _ = parse("MixedCase: Carol, Bob@Example.ORG\n")
    assert values(aliases["mixedcase"]) == ["carol", "Bob@example.org"]


def test_quoted_name():
    aliases, _ = parse('"quoted name": bob\n"with:colon": carol\n')
    assert values(aliases["quoted name"]) == ["bob"]
    assert values(aliases["with:colon"]) == ["carol"]


def test_duplicate_keeps_last_like_sendmail_8_17():
    aliases, findings = parse("dup: alice\ndup: bob\n")
    assert values(aliases["dup"]) == ["bob"]
    assert [(f.code, f.line, f.severity) for f in findings] == [("SM023", 2, "warning")]


def test_non_local_name_refused():
    aliases, findings = parse("user@example.org: alice\n")
    assert aliases == {}
    assert [(f.code, f.severity) for f in findings] == [("SM022", "error")]


def test_missing_colon_and_empty_value():
    aliases, findings = parse("nocolon alice\nempty:\n")
    assert aliases == {}
    assert codes(findings) == ["SM021", "SM026"]


def test_target_kinds():
    aliases, _ = parse('x: "|/usr/bin/prog -a b", /var/log/x.mbox, :include:/etc/l,'
                       ' \\alice, error:nouser 550 Gone, Name <n@example.org>,'
                       ' r@example.org (Comment, with comma)\n')
    assert aliases["x"].targets == (
        AliasTarget("program", "/usr/bin/prog -a b"),
        AliasTarget("file", "/var/log/x.mbox"),
        AliasTarget("include", "/etc/l"),
        AliasTarget("local", "alice", verbatim=True),
        AliasTarget("error", "nouser 550 Gone"),
        AliasTarget("address", "n@example.org"),
        AliasTarget("address", "r@example.org"),
    )


def test_unquoted_pipe():
    assert classify("|/usr/bin/vacation bob") == AliasTarget("program", "/usr/bin/vacation bob")


def test_unbalanced_quote_is_reported_not_dropped():
    aliases, findings = parse('x: "|/bin/prog, alice\n')
    assert "x" in aliases and codes(findings) == ["SM027"]


def test_latin1_bytes_and_crlf():
    source = decode_lines("/etc/mail/aliases", "caf\xe9: alice\r\nb: c\r\n".encode("latin-1"))
    aliases, findings = parse_aliases(source)
    assert {a.name for a in aliases} == {"caf\xe9", "b"}     # kept: lists may name it
    assert {f.code for f in findings} == {"SM001", "SM002", "SM028"}
