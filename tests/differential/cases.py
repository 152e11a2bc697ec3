"""The rc files of the differential runs, and the home directory each one runs in.

Three sources: the shared corpus of real procmailrc files, the construct
files of the converter's unit tests (tests/data/procmail) and the
differential's own construct files (tests/differential/rc).  Construct
files state the home tree they need in leading comments, which procmail
ignores (``# dir: Mail/lists``, ``# file: NAME = line|line``, ``# crlf: yes``);
corpus files get ``Mail/`` and nothing else.  Both engines see the same tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from converters.procmail import SieveConversion, convert_procmailrc
from migrate.inventory import folder_dir

HERE = Path(__file__).resolve().parent
CORPUS = Path(__file__).resolve().parents[1] / "data/corpus/procmailrc"
CONSTRUCTS = HERE.parent / "data" / "procmail"
OWN = HERE / "rc"
USER = "alice"


@dataclass(frozen=True)
class RcCase:
    """One rc file and the home tree it expects."""

    name: str
    text: bytes
    dirs: tuple[str, ...]
    files: tuple[tuple[str, str], ...]

    def make_home(self, root: Path) -> Path:
        """Create ``root/alice`` with the tree and the rc file; return it."""
        home = root / USER
        home.mkdir(parents=True)
        for d in self.dirs:
            (home / d).mkdir(parents=True, exist_ok=True)
        for name, content in self.files:
            (home / name).parent.mkdir(parents=True, exist_ok=True)
            (home / name).write_text(content)
        (home / ".procmailrc").write_bytes(self.text)
        return home

    def convert(self, root: Path) -> SieveConversion:
        """Translate as the migration does: folders relative to the user's folder dir."""
        home = self.make_home(root)
        return convert_procmailrc(home / ".procmailrc", user=USER, home=home,
                                  maildir=folder_dir(home))


def _construct(path: Path) -> RcCase:
    text = path.read_bytes()
    dirs: list[str] = []
    files: list[tuple[str, str]] = []
    crlf = False
    for line in text.decode("utf-8", "replace").splitlines():
        key, _, value = line.partition(": ")
        if key == "# dir":
            dirs.append(value)
        elif key == "# file":
            name, _, content = value.partition(" = ")
            files.append((name, content.replace("|", "\n") + "\n"))
        elif key == "# crlf" and value == "yes":
            crlf = True
    if crlf:
        text = text.replace(b"\n", b"\r\n")
    return RcCase(f"{path.parent.name}/{path.name}", text, tuple(dirs), tuple(files))


def corpus_cases() -> list[RcCase]:
    """The real rc files, each in a home with a ``Mail`` directory."""
    paths = sorted(CORPUS.glob("*.procmailrc")) if CORPUS.is_dir() else []
    return [RcCase(f"corpus/{p.name}", p.read_bytes(), ("Mail",), ()) for p in paths]


def construct_cases() -> list[RcCase]:
    """One file per construct: the converter's own and the differential's."""
    return [_construct(p) for p in [*sorted(CONSTRUCTS.glob("*.rc")), *sorted(OWN.glob("*.rc"))]]


def all_cases() -> list[RcCase]:
    """Every rc file the differential runs."""
    return corpus_cases() + construct_cases()
