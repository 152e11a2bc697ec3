"""One small rc file per procmail construct, with its expected Sieve and findings.

Each file in tests/data/procmail/ states what it expects in leading
comments (which procmail ignores):

    # dir: Mail/lists                  directory to create in the old home
    # file: NAME = line|line           file to create ('|' separates lines)
    # crlf: yes                        write the rc file with CRLF endings
    # expect: TEXT                     TEXT occurs in the Sieve script
    # expect-not: TEXT                 TEXT does not occur
    # finding: SEVERITY CODE           a finding with that severity and code
    # require: EXT                     the script requires EXT
    # folders: NAME                    NAME is among the folders reported
    # translated: N                    N recipes were translated
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sievelib.parser import Parser

from converters.procmail import convert_user

DATA = Path(__file__).parent.parent / "data" / "procmail"
CASES = sorted(DATA.glob("*.rc"))


def _directives(text: str) -> list[tuple[str, str]]:
    out = []
    for line in text.splitlines():
        if not line.startswith("# ") or ":" not in line:
            continue
        key, _, value = line[2:].partition(":")
        if key in {"dir", "file", "crlf", "expect", "expect-not", "finding", "require",
                   "folders", "translated"}:
            out.append((key, value[1:] if value.startswith(" ") else value))
    return out


def _convert(case: Path, tmp_path: Path):
    text = case.read_text()
    home = tmp_path / "alice"
    home.mkdir()
    directives = _directives(text)
    for key, value in directives:
        if key == "dir":
            (home / value).mkdir(parents=True, exist_ok=True)
        elif key == "file":
            name, _, content = value.partition(" = ")
            (home / name).parent.mkdir(parents=True, exist_ok=True)
            (home / name).write_text(content.replace("|", "\n") + "\n")
    data = text.encode()
    if ("crlf", "yes") in directives:
        data = data.replace(b"\n", b"\r\n")
    (home / ".procmailrc").write_bytes(data)
    return convert_user(user="alice", home=home, local_procmail=True), directives


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_construct(case: Path, tmp_path: Path) -> None:
    result, directives = _convert(case, tmp_path)
    parser = Parser()
    assert parser.parse(result.sieve), (parser.error, result.sieve)
    found = {(f.severity, f.code) for f in result.findings}
    require_line = result.sieve.splitlines()[0]
    for key, value in directives:
        if key == "expect":
            assert value in result.sieve, f"{value!r} missing from:\n{result.sieve}"
        elif key == "expect-not":
            assert value not in result.sieve, f"{value!r} present in:\n{result.sieve}"
        elif key == "finding":
            severity, code = value.split()
            assert (severity, code) in found, (value, found)
        elif key == "require":
            assert f'"{value}"' in require_line, require_line
        elif key == "folders":
            assert value in result.folders, result.folders
        elif key == "translated":
            assert result.recipes_translated == int(value), result


def test_at_least_fifty_constructs() -> None:
    assert len(CASES) >= 50


def test_every_case_states_an_expectation() -> None:
    for case in CASES:
        keys = {k for k, _ in _directives(case.read_text())}
        assert keys & {"expect", "expect-not", "finding"}, case.name
