"""Where Python's mailbox.mbox reads a file right, read_mbox must find the same messages."""

import mailbox
import os
import random
import shutil
import subprocess
from email.message import EmailMessage
from pathlib import Path

import pytest

from converters.mbox import read_mbox

DATA = Path(__file__).resolve().parents[1] / "data" / "mbox"
CORPUS = Path(__file__).resolve().parents[1] / "data/corpus/mbox"


def _messages(count: int) -> list[EmailMessage]:
    """Ordinary messages of varied sizes, some with body lines starting 'From '."""
    rng = random.Random(4242)
    out = []
    for n in range(count):
        msg = EmailMessage()
        msg["From"] = f"user{n}@example.org"
        msg["To"] = "alice@example.org"
        msg["Subject"] = f"message {n}"
        lines = [" ".join(rng.choice(["alpha", "beta", "From", "gamma", ">From", "delta"])
                          for _ in range(rng.randint(1, 12))) for _ in range(rng.randint(0, 40))]
        msg.set_content("\n".join(lines) + "\n")
        out.append(msg)
    return out


def _same_as_stdlib(path: Path) -> None:
    ours = list(read_mbox(path))
    theirs = mailbox.mbox(path, create=False)
    try:
        keys = theirs.keys()
        assert len(ours) == len(keys)
        for mine, key in zip(ours, keys, strict=True):
            expected = theirs.get_bytes(key).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            assert mine.data == expected
            assert mine.from_line == theirs.get_message(key).get_from().encode().join(
                [b"From ", b""]).rstrip(b"\r")
    finally:
        theirs.close()


def test_mbox_written_by_python(tmp_path):
    path = tmp_path / "py.mbox"
    box = mailbox.mbox(path)
    for msg in _messages(60):
        box.add(msg)
    box.flush()
    box.close()
    assert b"\n>From " in path.read_bytes()      # the writer had something to quote
    _same_as_stdlib(path)


@pytest.mark.skipif(shutil.which("procmail") is None, reason="procmail not installed")
def test_spool_written_by_procmail(tmp_path):
    spool = tmp_path / "spool"
    rc = tmp_path / "rc"
    rc.write_text(f"SHELL=/bin/sh\nMAILDIR={tmp_path}\nDEFAULT={spool}\nLOGFILE={tmp_path}/log\n")
    for msg in _messages(25):
        subprocess.run(["procmail", "-m", "-f", msg["From"], str(rc)], input=msg.as_bytes(),
                       check=True, env={"PATH": os.environ["PATH"]})
    assert b"\n>From " in spool.read_bytes()
    _same_as_stdlib(spool)


@pytest.mark.parametrize("path", [CORPUS / "ietf_windows1252_crlf.mbox",
                                  DATA / "junk_before_first.mbox"])
def test_ordinary_fixtures(path):
    if path.name == "junk_before_first.mbox":
        # mailbox.mbox drops the bytes before the first From_ line; we keep them
        ours = list(read_mbox(path))
        theirs = mailbox.mbox(path, create=False)
        assert len(ours) == len(theirs) + 1
        assert ours[1].data == theirs.get_bytes(0).replace(b"\n", b"\r\n")
        theirs.close()
        return
    _same_as_stdlib(path)
