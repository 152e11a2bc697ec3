"""How much of the shared procmailrc corpus the converter carries over, and why not the rest.

Converts every ``*.procmailrc`` of the corpus as user ``alice`` (home with a
``Mail/`` directory, as the corpus tests do) and prints the share of recipes
translated, then the untranslated recipes grouped by finding code and reason,
biggest group first, with up to ``--examples`` file:line examples each.

    python bench/procmail_coverage.py [--corpus DIR] [--examples N] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from converters.procmail import convert_procmailrc

CORPUS = Path(__file__).resolve().parents[1] / "tests/data/corpus/procmailrc"

#: Finding codes that mean "this recipe was not carried over" (one per such recipe).
UNTRANSLATED = {"procmail-untranslated", "procmail-folder-outside", "procmail-filter",
                "procmail-pipe", "procmail-duplicate", "procmail-dynamic",
                "procmail-forward", "procmail-vacation", "procmail-approximate"}


def _reason_key(reason: str) -> str:
    """Group reasons that differ only in paths, names or quoted text."""
    reason = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", reason)
    reason = re.sub(r"\$[A-Za-z_{][A-Za-z0-9_}]*", "$VAR", reason)
    return re.sub(r"(/[^\s,;]+)+", "PATH", reason)


def measure(corpus: Path) -> dict[str, object]:
    """Convert every file; count recipes and collect the untranslated ones by reason."""
    total = translated = 0
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(corpus.glob("*.procmailrc")):
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp) / "alice"
            (home / "Mail").mkdir(parents=True)
            (home / ".procmailrc").write_bytes(path.read_bytes())
            result = convert_procmailrc(home / ".procmailrc", user="alice", home=home)
        total += result.recipes_total
        translated += result.recipes_translated
        for f in result.findings:
            if f.code in UNTRANSLATED and f.severity != "info":
                groups[(f.code, _reason_key(f.reason))].append(f"{path.name}:{f.line}")
    ordered = sorted(groups.items(), key=lambda kv: -len(kv[1]))
    return {"files": len(list(corpus.glob("*.procmailrc"))), "recipes": total,
            "translated": translated,
            "groups": [{"code": c, "reason": r, "count": len(w), "where": w}
                       for (c, r), w in ordered]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--examples", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    res = measure(args.corpus)
    if args.json:
        json.dump(res, sys.stdout, indent=2)
        print()
        return 0
    share = 100.0 * res["translated"] / max(1, res["recipes"])  # type: ignore[operator]
    print(f"{res['files']} files, {res['recipes']} recipes, {res['translated']} translated "
          f"({share:.1f}%)")
    for g in res["groups"]:  # type: ignore[attr-defined]
        print(f"{g['count']:4d}  {g['code']}: {g['reason']}")
        print("        e.g. " + ", ".join(g["where"][: args.examples]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
