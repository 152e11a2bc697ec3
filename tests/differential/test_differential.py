"""procmail and Cyrus, side by side: the translated script must do what the rc file did.

Every fully translated rc file (corpus and constructs) runs on a sample of
the test messages in the real procmail and, translated, in the real Cyrus;
the outcomes must be equal.  Every generated script must also pass Cyrus'
own ManageSieve CHECKSCRIPT.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .cases import all_cases
from .compare import compare_file, fully_translated
from .cyrus_engine import Sandbox, check_scripts
from .messages import messages
from .procmail_oracle import available

REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.servers,
    pytest.mark.skipif(not available(), reason="procmail is not installed"),
]


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    proc = subprocess.run([sys.executable, str(REPO / "samples/sandbox/sandbox.py"), "start"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return Sandbox.load()


def _conversions():
    out = []
    for case in all_cases():
        with tempfile.TemporaryDirectory() as tmp:
            out.append((case, case.convert(Path(tmp))))
    return out


def test_messages_are_many_and_deterministic() -> None:
    first, second = messages(), messages()
    assert len(first) >= 300
    assert first == second
    assert len({m.sender for m in first}) == len(first)


def test_every_script_passes_checkscript(sandbox: Sandbox) -> None:
    conversions = _conversions()
    verdicts = check_scripts([conv.sieve for _, conv in conversions], sandbox)
    refused = [f"{case.name}: {error}"
               for (case, _), error in zip(conversions, verdicts, strict=True) if error]
    assert not refused, "\n".join(refused)


def test_checkscript_refuses_a_bad_script(sandbox: Sandbox) -> None:
    assert check_scripts(['require "fileinto";\nfileinto "x" "y";\n'], sandbox)[0]


def test_cyrus_does_what_procmail_did(sandbox: Sandbox) -> None:
    cases = [c for c, conv in _conversions() if fully_translated(conv)]
    assert len(cases) >= 40
    # Every fifth message (about 70; 5 and the 9 generated kinds are coprime, so every
    # kind, RFC 2047-encoded headers among them) keeps the run near a minute.
    batch = messages()[::5]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(
            lambda c: compare_file(c, batch, secrets.token_hex(4), sandbox), cases))
    pairs = [p for r in results for p in r.pairs]
    assert pairs and all(p.comparable for p in pairs)
    bad = [str(p) for p in pairs if not p.agree]
    assert not bad, f"{len(bad)} of {len(pairs)} pairs disagree:\n" + "\n".join(bad)
    # The reading is exercised: some rules answer differently on raw bytes.
    assert any(p.reading_mattered for p in pairs)
