"""An untranslated block takes its contents along; its finding must show all of it."""

from __future__ import annotations

from pathlib import Path

from converters.procmail import convert_procmailrc

RC = """:0
* ? /usr/local/bin/is-project
{
  :0 c
  | $HOME/bin/archive.pl atlas

  :0:
  projects/atlas
}
"""


def test_untranslated_block_finding_shows_the_rules_inside(tmp_path: Path) -> None:
    (tmp_path / ".procmailrc").write_text(RC)
    conv = convert_procmailrc(tmp_path / ".procmailrc", user="erin", home=tmp_path)
    [finding] = [f for f in conv.findings if f.code == "procmail-untranslated"]
    assert finding.line == 1
    assert "archive.pl atlas" in finding.text and "projects/atlas" in finding.text
    pipe_line = RC.splitlines().index("  | $HOME/bin/archive.pl atlas") + 1
    assert finding.line <= pipe_line <= finding.line + finding.text.count("\n")
