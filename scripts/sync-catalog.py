#!/usr/bin/env python3
"""Generate templates/, the GitLab CI/CD Catalog copy of gitlab-templates/.

GitLab's catalog publishes the components it finds as `templates/<name>.yml` (or
`templates/<name>/template.yml`) in a project marked as a catalog resource. changegate's
templates live in gitlab-templates/ (where `include: project` and `include: remote` users point),
so this script copies each one, byte for byte, to templates/<name>.yml: the same file under both
paths, with the same sha256 and the same `integrity:` value. The copy is generated, never edited:
`--check` (run by tests/release/test_release_catalog.py and by scripts/release.py) fails when
templates/ differs from what this script would write, or holds anything else.

Usage:
  python scripts/sync-catalog.py            write templates/
  python scripts/sync-catalog.py --check    exit 1 (and list the differences) when out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = "gitlab-templates"
CATALOG = "templates"


def expected(root: Path) -> dict[str, bytes]:
    """templates/<name>.yml -> bytes, for every gitlab-templates/<name>.yml."""
    sources = sorted((root / SOURCE).glob("*.yml"))
    return {f"{CATALOG}/{path.name}": path.read_bytes() for path in sources}


def differences(root: Path) -> list[str]:
    want = expected(root)
    problems = []
    catalog = root / CATALOG
    have = ({p.relative_to(root).as_posix() for p in catalog.rglob("*") if p.is_file()}
            if catalog.is_dir() else set())
    for rel in sorted(set(want) | have):
        path = root / rel
        if rel not in want:
            problems.append(f"{rel}: not generated from {SOURCE}/ (remove it)")
        elif rel not in have:
            problems.append(f"{rel}: missing")
        elif path.read_bytes() != want[rel]:
            problems.append(f"{rel}: differs from {SOURCE}/{Path(rel).name}")
    if not want:
        problems.append(f"{SOURCE}/ has no templates")
    return problems


def write(root: Path) -> list[str]:
    want = expected(root)
    catalog = root / CATALOG
    catalog.mkdir(exist_ok=True)
    written = []
    for path in sorted(p for p in catalog.rglob("*") if p.is_file()):
        if path.relative_to(root).as_posix() not in want:
            path.unlink()
            written.append(f"removed {path.relative_to(root).as_posix()}")
    for rel, data in want.items():
        target = root / rel
        if not target.is_file() or target.read_bytes() != data:
            target.write_bytes(data)
            written.append(f"wrote {rel}")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sync-catalog.py", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only report differences")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.check:
        problems = differences(args.root)
        for problem in problems:
            print(f"sync-catalog: {problem}", file=sys.stderr)
        if problems:
            print("sync-catalog: run `python scripts/sync-catalog.py` to regenerate templates/",
                  file=sys.stderr)
        return 1 if problems else 0
    for line in write(args.root) or ["templates/ is up to date"]:
        print(f"sync-catalog: {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
