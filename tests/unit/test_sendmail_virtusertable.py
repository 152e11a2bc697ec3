"""virtusertable lookup order and parameters (cf/README, proto.m4)."""

from __future__ import annotations

import pytest

from converters.sendmail.maps import parse_map
from converters.sendmail.textfile import decode_lines
from converters.sendmail.virtusertable import (
    ErrorValue,
    key_form,
    lookup,
    parse_error,
    parse_virtusertable,
    substitute,
)

TABLE = """\
# every key form
exact+tag@d.org      exact-tag
joe@d.org            joe-plain
joe++@d.org          joe-plus-%2
joe+*@d.org          joe-star-%2%3
ann@d.org            %1-only
++@d.org             dplus-%1-%2-%3
+*@d.org             dstar-%1%3
@d.org               catch-%1-%2-%3
@e.org               %1@elsewhere.example
old+*@e.org          new+%2@example.com
pct@e.org            100%%off
"""


@pytest.fixture(scope="module")
def table():
    entries, findings = parse_map(decode_lines("/etc/mail/virtusertable", TABLE.encode()))
    assert findings == ()
    typed, findings = parse_virtusertable(entries, frozenset({"d.org", "e.org"}))
    assert findings == ()
    return {e.key: e for e in typed}


@pytest.mark.parametrize("address, value", [
    ("exact+tag@d.org", "exact-tag"),       # full local part first
    ("joe@d.org", "joe-plain"),
    ("joe+x@d.org", "joe-plus-x"),          # user++ before user+*
    ("joe+@d.org", "joe-star-+"),           # ++ needs a detail; * takes the empty one
    ("ann+x@d.org", "ann-only"),            # user@d: %1 is the user, detail dropped
    ("ann@d.org", "ann-only"),
    ("bob+x@d.org", "dplus-bob-x-+x"),      # ++@d
    ("bob+@d.org", "dstar-bob+"),           # +*@d with empty detail
    ("bob@d.org", "catch-bob--"),           # no '+': %1 = local part, %2 %3 empty
    ("Bob@D.ORG", "catch-Bob--"),           # keys fold, %1 keeps the case given
    ("exact+other@d.org", "dplus-exact-other-+other"),
    ("x+y@e.org", "x@elsewhere.example"),   # @domain %1: detail dropped
    ("old+z@e.org", "new+z@example.com"),
    ("old@e.org", "old@elsewhere.example"),
    ("pct@e.org", "100%off"),
    ("a+b+c@d.org", "dplus-a-b+c-+b+c"),    # split at the first '+'
])
def test_lookup_order(table, address, value):
    local, domain = address.rsplit("@", 1)
    match = lookup(table, local, domain)
    assert match is not None and match.value == value


def test_no_entry(table):
    assert lookup(table, "x", "other.org") is None


@pytest.mark.parametrize("local, form, user", [
    ("", "domain", ""), ("++", "default_plus", ""), ("+*", "default_star", ""),
    ("u++", "user_plus", "u"), ("u+*", "user_star", "u"), ("u+t", "exact", "u+t"),
    ("u", "user", "u"),
])
def test_key_forms(local, form, user):
    assert key_form(local) == (form, user)


@pytest.mark.parametrize("value, reply", [
    ("error:nouser 550 No such user here", ErrorValue("550", "5.1.1", "No such user here")),
    ("error:5.7.0:550 Address invalid", ErrorValue("550", "5.7.0", "Address invalid")),
    ("error:nouser User unknown", ErrorValue("550", "5.1.1", "User unknown")),
    ("error:550 Gone", ErrorValue("550", "5.0.0", "Gone")),
    ("error:tempfail try later", ErrorValue("451", "4.0.0", "try later")),
    ("error:4.2.1:450 Busy", ErrorValue("450", "4.2.1", "Busy")),
])
def test_error_values(value, reply):
    assert parse_error(value) == reply


def test_substitute_missing_parameters_vanish():
    assert substitute("%1.%2.%3.%%.%4", ("a",)) == "a...%."


def test_bad_keys_are_reported_with_lines():
    text = "nokey alice\nx@nowhere.example alice\na@d.org b, c\nq@d.org %0x\n"
    entries, _ = parse_map(decode_lines("/etc/mail/virtusertable", text.encode()))
    typed, findings = parse_virtusertable(entries, frozenset({"d.org"}))
    assert [(f.code, f.line) for f in findings] == [
        ("SM030", 1), ("SM033", 2), ("SM031", 3), ("SM032", 4)]
    assert [e.value for e in typed] == ["b", "%0x"]


def test_error_text_with_comma_is_not_a_list():
    text = "n@d.org error:5.1.1:550 The newsletter is gone, sorry\n"
    entries, _ = parse_map(decode_lines("/etc/mail/virtusertable", text.encode()))
    typed, findings = parse_virtusertable(entries, frozenset({"d.org"}))
    assert findings == ()
    assert typed[0].error.text == "The newsletter is gone, sorry"
