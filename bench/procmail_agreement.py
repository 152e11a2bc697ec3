"""procmail -> Sieve: how much is translated, and does Cyrus do what procmail did?

Runs the differential harness (tests/differential) over every rc file (the
shared corpus, the converter's construct files, the differential's own) and
every test message, and prints: files parsed, recipes translated (overall and
per kind of action), pairs compared, agreement on the comparable pairs (header
text judged as Sieve reads it: unfolded, decoded, blanks around values removed;
see tests/differential/compare.py), how often that reading changed procmail's
own answer, and each disagreement.  Needs procmail and the sandbox servers.

    python3 bench/procmail_agreement.py [--step N] [--files SUBSTRING]
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from converters.procmail.parser import parse_file  # noqa: E402
from converters.procmail.syntax import Block, Recipe  # noqa: E402
from tests.differential.cases import RcCase, all_cases  # noqa: E402
from tests.differential.compare import FileResult, compare_file  # noqa: E402
from tests.differential.cyrus_engine import Sandbox  # noqa: E402
from tests.differential.messages import messages  # noqa: E402


def action_kind(r: Recipe) -> str:
    """A coarse name for what a recipe does, to report translation per kind."""
    if isinstance(r.action, Block):
        return "block"
    text = r.action.text.strip()
    if text.startswith("!"):
        return "forward"
    if text.startswith("|"):
        return "autoreply" if "formail" in text and "-r" in text else "pipe"
    if text == "/dev/null":
        return "discard"
    if text.endswith("/."):
        return "mh folder"
    if text.endswith("/"):
        return "maildir"
    return "folder"


def _recipes(items, skipped: set[int],
             inside: bool = False) -> list[tuple[Recipe, bool]]:
    """Every recipe with whether it was translated; all of an untranslated block is not."""
    out = []
    for item in items:
        if isinstance(item, Recipe):
            lost = inside or item.pos.line in skipped
            out.append((item, not lost))
            if isinstance(item.action, Block):
                out += _recipes(item.action.items, skipped, lost)
    return out


def per_kind(case: RcCase, result: FileResult, tally: Counter, done: Counter) -> bool:
    """Count the file's own recipes by kind and translated; False when it does not parse."""
    with tempfile.TemporaryDirectory() as tmp:
        home = case.make_home(Path(tmp))
        findings: list = []
        rc = parse_file(home / ".procmailrc", findings, "/home/alice/.procmailrc")
    untranslated = {line for file, line in result.conversion.untranslated if file == rc.path}
    for r, translated in _recipes(rc.items, untranslated):
        kind = action_kind(r)
        tally[kind] += 1
        done[kind] += translated
    return not any(f.code == "procmail-syntax" and f.severity == "error" for f in findings)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--step", type=int, default=1, help="use every Nth message")
    ap.add_argument("--files", default="", help="only rc files whose name contains this")
    ap.add_argument("--parallel", type=int, default=3, help="rc files run at once")
    args = ap.parse_args(argv)
    sb = Sandbox.load()
    batch = messages()[::args.step]
    cases = [c for c in all_cases() if args.files in c.name]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        results = list(pool.map(
            lambda c: compare_file(c, batch, secrets.token_hex(4), sb), cases))
    elapsed = time.monotonic() - started
    tally: Counter = Counter()
    done: Counter = Counter()
    parsed = sum(per_kind(c, r, tally, done) for c, r in zip(cases, results, strict=True))
    total = sum(r.conversion.recipes_total for r in results)
    translated = sum(r.conversion.recipes_translated for r in results)
    pairs = [p for r in results for p in r.pairs]
    comparable = [p for p in pairs if p.comparable]
    agree = sum(p.agree for p in comparable)
    full = sum(1 for r in results if r.pairs and r.pairs[0].comparable)
    print(f"rc files:            {len(cases)} ({sum(c.name.startswith('corpus/') for c in cases)} "
          f"corpus, {sum(not c.name.startswith('corpus/') for c in cases)} construct)")
    print(f"files parsed:        {parsed}/{len(cases)} ({100 * parsed / len(cases):.1f}%)")
    print(f"recipes translated:  {translated}/{total} ({100 * translated / max(total, 1):.1f}%)")
    for kind in sorted(tally):
        print(f"    {kind:14s} {done[kind]:4d}/{tally[kind]:<4d} "
              f"({100 * done[kind] / tally[kind]:.1f}%)")
    print(f"fully translated:    {full}/{len(cases)} files")
    print(f"messages:            {len(batch)}")
    print(f"pairs:               {len(pairs)} ({len(comparable)} comparable, "
          f"{len(pairs) - len(comparable)} not comparable)")
    print(f"agreement:           {agree}/{len(comparable)} "
          f"({100 * agree / max(len(comparable), 1):.2f}%)")
    mattered = [p for p in comparable if p.reading_mattered]
    print(f"read otherwise:      {sum(p.procmail_raw is not None for p in comparable)} comparable "
          f"pairs on messages Sieve reads otherwise than their bytes (RFC 2047 words, folded "
          f"or blank-padded header values, single-part quoted-printable/base64 bodies); on "
          f"{len(mattered)} procmail's own answer on the raw bytes differs from its "
          f"answer on the text as Sieve reads it (the one judged), Cyrus agreeing with the "
          f"reading on {sum(p.agree for p in mattered)}")
    print(f"wall time:           {elapsed:.0f} s")
    by_file = Counter(p.rcfile for p in comparable if not p.agree)
    for name, n in sorted(by_file.items()):
        first = next(p for p in comparable if p.rcfile == name and not p.agree)
        print(f"  DISAGREE {n:4d} on {name}, e.g. {first}")
    return 0 if agree == len(comparable) and parsed == len(cases) else 1


if __name__ == "__main__":
    sys.exit(main())
