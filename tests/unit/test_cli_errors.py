"""Bad configuration and bad arguments give exit status 2 and name file:line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from migrate.cli import main


def run(capsys, *argv: str) -> tuple[int, str]:
    rc = main(list(argv))
    return rc, capsys.readouterr().err


def test_bad_toml_names_file_line_and_column(tmp_path: Path, capsys):
    cfg = tmp_path / "m.toml"
    cfg.write_text('[site]\nroot = "x"\n[cyrus\n')
    rc, err = run(capsys, "--config", str(cfg), "status")
    assert rc == 2
    assert f"{cfg}:3:7: bad TOML" in err


def test_unknown_key_is_refused(tmp_path: Path, capsys):
    cfg = tmp_path / "m.toml"
    cfg.write_text('[site]\nroot = "x"\n[postfix]\nrouting_dbb = "y"\n')
    rc, err = run(capsys, "--config", str(cfg), "status")
    assert rc == 2 and "unknown key(s) routing_dbb" in err


def test_config_flag_after_the_verb_is_honoured(tmp_path: Path, capsys):
    cfg = tmp_path / "m.toml"
    cfg.write_text('[site]\nroot = "nowhere"\n')
    rc, err = run(capsys, "inventory", "--config", str(cfg))
    assert rc == 2 and "nowhere" in err and "no etc/ directory" in err


def test_unknown_domain(tmp_path: Path, capsys):
    cfg = tmp_path / "m.toml"
    cfg.write_text(f'[site]\nroot = "{tmp_path}"\n[postfix]\nrouting_db = "r.sqlite"\n')
    rc, err = run(capsys, "--config", str(cfg), "report", "--domain", "nope.example")
    assert rc == 2 and "unknown domain 'nope.example'" in err


def test_password_never_from_argv(tmp_path: Path):
    assert main(["--password", "secret", "status"]) == 2


def test_usage_errors_with_json_print_a_json_document(capsys):
    assert main(["--json", "cutover"]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out) == {
        "error": "cutover: the following arguments are required: domain", "exit": 2}
    assert "usage: mailmigrate cutover" in err
    assert main(["--json", "frobnicate"]) == 2
    assert json.loads(capsys.readouterr().out)["exit"] == 2


def test_help_still_exits_0():
    with pytest.raises(SystemExit) as exc:
        main(["status", "--help"])
    assert exc.value.code == 0


def test_convert_procmail_of_a_directory_says_so(tmp_path: Path, capsys):
    rc, err = run(capsys, "convert", "procmail", str(tmp_path))
    assert rc == 2 and f"{tmp_path}: is a directory, not a procmailrc file" in err


def test_domain_names_match_case_insensitively(tmp_path: Path, capsys):
    sample = Path(__file__).resolve().parents[2] / "samples" / "site"
    cfg = tmp_path / "m.toml"
    cfg.write_text(f'[site]\nroot = "{sample}"\n[tracker]\ndb = "sqlite:///{tmp_path}/t.db"\n'
                   f'[output]\ndir = "{tmp_path}/out"\n')
    assert main(["--config", str(cfg), "inventory"]) == 0
    capsys.readouterr()
    assert main(["--config", str(cfg), "--json", "report", "--domain", "EXAMPLE.ORG"]) in (0, 3)
    out = json.loads(capsys.readouterr().out)
    assert "unknown domain" not in json.dumps(out)


def test_errors_with_json_still_print_a_json_document(tmp_path: Path, capsys):
    missing = tmp_path / "missing.rc"
    assert main(["convert", "procmail", str(missing), "--json"]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out) == {"error": f"{missing}: no such file", "exit": 2}
    assert "no such file" in err


def test_a_wrong_value_in_the_config_names_its_line(tmp_path: Path, capsys):
    config = tmp_path / "c.toml"
    config.write_text('[site]\nroot = "x"\n\n[cyrus]\nhost = "h"\nimap_port = "abc"\n')
    rc, err = run(capsys, "--config", str(config), "status")
    assert rc == 2 and f"{config}:6: [cyrus] imap_port must be a whole number" in err
    config.write_text('[site]\nroot = "x"\n[cyrus]\nimap_prot = 143\n')
    rc, err = run(capsys, "--config", str(config), "status")
    assert rc == 2 and f"{config}:4: [cyrus]: unknown key(s) imap_prot" in err


def test_a_refused_imap_connection_names_the_server() -> None:
    # Port 1 on loopback refuses for real; "Connection refused" alone named nothing.
    from migrate.config import CyrusConfig
    from migrate.imap import connect
    with pytest.raises(ConnectionError, match=r"Cyrus IMAP at 127\.0\.0\.1:1: "):
        connect(CyrusConfig(host="127.0.0.1", imap_port=1, admin="a", password_file="/x"))
