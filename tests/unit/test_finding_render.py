"""How a finding reads in the dry-run report and on convert's stderr."""

from __future__ import annotations

from converters.finding import Finding


def test_a_fix_of_several_lines_keeps_them_indented() -> None:
    f = Finding("warning", "/home/frank/.procmailrc", 7, ":0 hc\n| formail -rt", "why",
                'vacation "Thanks.\n\nBack soon.";')
    assert f.render("  ").splitlines() == [
        "  /home/frank/.procmailrc:7: warning: why",
        "      | :0 hc",
        "      | | formail -rt",
        '      -> vacation "Thanks.',
        "",
        "         Back soon.\";",
    ]


def test_a_long_text_says_how_much_was_left_out() -> None:
    text = "\n".join(f"* line {i}" for i in range(30))
    lines = Finding("warning", "rc", 1, text, "why").render(max_text_lines=20).splitlines()
    assert lines[1:21] == [f"    | * line {i}" for i in range(20)]
    assert lines[21] == "    | ... (10 more lines)"
    assert len(lines) == 22


def test_every_line_of_a_continued_action_is_quoted() -> None:
    text = ":0 hc\n| (formail -rt; \\\n   cat reply) | $SENDMAIL -t"
    rendered = Finding("warning", "rc", 7, text, "why").render(max_text_lines=20)
    assert "    |    cat reply) | $SENDMAIL -t" in rendered.splitlines()
