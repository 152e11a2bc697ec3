"""Every real procmailrc in the shared corpus parses and translates to valid Sieve."""

from __future__ import annotations

from pathlib import Path

import pytest
from sievelib.parser import Parser

from converters.procmail import convert_procmailrc
from converters.procmail.parser import parse_file

CORPUS = Path(__file__).resolve().parents[1] / "data/corpus/procmailrc"
FILES = sorted(CORPUS.glob("*.procmailrc"))


def test_corpus_is_there() -> None:
    assert len(FILES) >= 40


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_corpus_file_parses(path: Path) -> None:
    findings: list = []
    rc = parse_file(path, findings)
    n_lines = path.read_text(errors="replace").count("\n") + 1
    for f in findings:
        assert f.line is None or 1 <= f.line <= n_lines
    text = path.read_text(errors="replace")
    meaningful = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    assert rc.items or not meaningful


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_corpus_file_translates_to_valid_sieve(path: Path, tmp_path: Path) -> None:
    home = tmp_path / "alice"
    (home / "Mail").mkdir(parents=True)
    rc = home / ".procmailrc"
    rc.write_bytes(path.read_bytes())
    result = convert_procmailrc(rc, user="alice", home=home)
    parser = Parser()
    assert parser.parse(result.sieve), parser.error
    assert not [f for f in result.findings if f.code == "sieve-invalid"]
    assert 0 <= result.recipes_translated <= result.recipes_total
    untranslated = result.recipes_total - result.recipes_translated
    warnings = [f for f in result.findings if f.severity == "warning"]
    assert len(warnings) >= min(untranslated, 1)
