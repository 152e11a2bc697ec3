"""The rc parser: positions, odd-but-valid syntax, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from converters.finding import InputError
from converters.procmail.parser import parse_file, parse_text
from converters.procmail.syntax import Assignment, Block, Recipe


def _parse(text: str):
    findings: list = []
    return parse_text(text, "rc", findings), findings


def test_positions_are_kept() -> None:
    rc, _ = _parse("X=1\n\n  :0 c:\n  * ^Subject:.*a\n  folder\n")
    assign, recipe = rc.items
    assert isinstance(assign, Assignment) and (assign.pos.line, assign.pos.column) == (1, 1)
    assert isinstance(recipe, Recipe)
    assert (recipe.pos.line, recipe.pos.column) == (3, 3)
    assert recipe.conditions[0].pos.line == 4
    assert recipe.action.pos.line == 5
    assert recipe.flags == "c" and recipe.lock == ""


def test_head_with_lockfile_and_comment() -> None:
    rc, _ = _parse(":0 Whc: vacation.lock   # comment\n| formail -rD 8192 cache\n")
    (recipe,) = rc.items
    assert recipe.flags == "Whc" and recipe.lock == "vacation.lock"


def test_several_items_on_one_line_and_inline_blocks() -> None:
    rc, _ = _parse('A=1 B="two words" C\n:0\n* ^Subject:.*x\n{ D=4 }\n:0\n{ :0 b\n x\n} }\n')
    names = [(i.name, i.kind) for i in rc.items if isinstance(i, Assignment)]
    assert names == [("A", "value"), ("B", "value"), ("C", "unset")]
    block = rc.items[3].action
    assert isinstance(block, Block) and block.items[0].name == "D"


def test_multi_line_quoted_value() -> None:
    rc, _ = _parse('H="a\nb"\n:0\nx\n')
    assert rc.items[0].value == '"a\nb"'
    assert isinstance(rc.items[1], Recipe)


def test_continuation_and_hash_in_condition() -> None:
    rc, _ = _parse(":0\n* ^Subject:.*a # b\\\n   c\nx\n")
    assert rc.items[0].conditions[0].text == "^Subject:.*a # bc"


def test_pipe_assignment() -> None:
    rc, _ = _parse("SUBJ=| formail -xSubject:\n")
    assert rc.items[0].kind == "pipe" and rc.items[0].value == "formail -xSubject:"


def test_legacy_numbered_recipe() -> None:
    rc, _ = _parse(":1\n^Subject:.*x\nfolder\n")
    assert rc.items[0].conditions[0].text == "^Subject:.*x"


def test_malformed_line_gives_finding_with_position() -> None:
    rc, findings = _parse(":0\n* ^A:.*x\nf\n* stray\n:0\ng\n")
    assert len(rc.items) == 2
    (f,) = findings
    assert f.line == 4 and f.subject == "rc:4:1" and f.code == "procmail-syntax"


def test_crlf_is_reported_and_read() -> None:
    rc, findings = _parse(":0\r\n* ^Subject:.*x\r\nfolder\r\n")
    assert rc.items[0].action.text == "folder"
    assert [f.code for f in findings] == ["procmail-crlf"]


def test_binary_input_is_an_input_error(tmp_path: Path) -> None:
    p = tmp_path / "rc"
    p.write_bytes(b"\x7fELF\x00\x01\x02")
    with pytest.raises(InputError) as exc:
        parse_file(p, [])
    assert str(p) in str(exc.value)


def test_text_that_is_not_a_procmailrc_is_an_input_error() -> None:
    with pytest.raises(InputError):
        _parse("}}}}\n{{{{ not a procmailrc\n*** nor this\n" * 30)


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        parse_file(tmp_path / "nope", [])
