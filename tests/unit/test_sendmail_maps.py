"""makemap sources and class files, mailertable/access/genericstable parsing."""

from __future__ import annotations

from converters.sendmail.access import parse_access
from converters.sendmail.genericstable import parse_genericstable
from converters.sendmail.mailertable import parse_mailertable, route_for
from converters.sendmail.maps import parse_class_file, parse_map
from converters.sendmail.textfile import decode_lines


def entries(text: str, name: str = "/etc/mail/t"):
    return parse_map(decode_lines(name, text.encode()))


def test_makemap_first_key_wins_and_keys_fold():
    found, findings = entries("# c\n\nKey  Value One\nkey other\n  indented x\nlonely\n")
    assert [(e.key, e.value, e.line) for e in found] == [("key", "Value One", 3)]
    assert [(f.code, f.line) for f in findings] == [("SM011", 4), ("SM012", 5), ("SM010", 6)]


def test_class_file_words():
    # sendmail 8.17 reads class files with scanf "%s": only the first word of a line
    # (its -bt `$=w` lists a.org, not b.org; see checks/sendmail_oracle.py).
    words, findings = parse_class_file(decode_lines(
        "/etc/mail/local-host-names", b"# x\nExample.ORG.\na.org b.org\n\nexample.org\n"))
    assert [w.word for w in words] == ["example.org", "a.org"]
    assert [(f.code, f.line) for f in findings] == [("SM013", 3)]


def test_mailertable_most_specific_wins():
    found, _ = entries("a.example smtp:[h1]\n.a.example esmtp:h2\n. relay:smart\n"
                       "b.example error:5.1.2:550 Host unknown\nbad nomailer\n")
    routes, findings = parse_mailertable(found)
    assert route_for(routes, "a.example").host == "[h1]"
    assert route_for(routes, "x.y.a.example").host == "h2"      # .domain: sub-domains
    assert route_for(routes, "other.example").host == "smart"   # '.' catches the rest
    assert route_for(routes, "b.example").error.reply() == "550 5.1.2 Host unknown"
    assert [(f.code, f.line) for f in findings] == [("SM040", 5)]


def test_access_tags_and_actions():
    text = ("Connect:10.1 RELAY\nFrom:a@b.example 550 no\nTo:c.example ERROR:5.7.1:550 x\n"
            "From:q.example QUARANTINE:look\nplain.example REJECT\nSpam:abuse@ FRIEND\n"
            "To:d.example MAYBE\nConnect:IPv6:2001:db8 OK\n")
    found, _ = entries(text)
    parsed, findings = parse_access(found)
    got = [(e.tag, e.key, e.action, e.code, e.dsn, e.text) for e in parsed]
    assert got == [
        ("connect", "10.1", "RELAY", "", "", ""),
        ("from", "a@b.example", "ERROR", "550", "", "no"),
        ("to", "c.example", "ERROR", "550", "5.7.1", "x"),
        ("from", "q.example", "QUARANTINE", "", "", "look"),
        ("untagged", "plain.example", "REJECT", "", "", ""),
        ("connect", "ipv6:2001:db8", "OK", "", "", ""),
    ]
    assert [(f.code, f.line) for f in findings] == [("SM050", 6), ("SM051", 7)]


def test_genericstable_forms():
    found, _ = entries("alice a@x\nbob@h b@x\n@d %1@x\n")
    assert [e.form for e in parse_genericstable(found)] == ["user", "address", "domain"]


def test_access_quoted_error_text():
    found, _ = entries('Connect:bulk.example ERROR:"550 Mass mail refused"\n')
    parsed, _ = parse_access(found)
    assert (parsed[0].code, parsed[0].text) == ("550", "Mass mail refused")
