"""templates/, the GitLab CI/CD Catalog copy: generated from gitlab-templates/, byte-identical.

GitLab's catalog publishes `templates/<name>.yml` (or `templates/<name>/template.yml`) as the
component `<name>`; changegate keeps its templates in gitlab-templates/ and generates the copy
with scripts/sync-catalog.py. The committed copy must be exactly what the script writes.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from releasehelpers import ROOT

SCRIPT = ROOT / "scripts" / "sync-catalog.py"


def sync(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), "--root", str(root), *args],
                          capture_output=True, text=True, check=False)


def test_the_committed_catalog_copy_is_byte_identical_to_the_generated_one() -> None:
    proc = sync(ROOT, "--check")
    assert proc.returncode == 0, proc.stderr + "\n(run python scripts/sync-catalog.py)"
    sources = sorted((ROOT / "gitlab-templates").glob("*.yml"))
    copies = sorted(p for p in (ROOT / "templates").rglob("*") if p.is_file())
    assert [p.name for p in copies] == [p.name for p in sources]
    for source in sources:
        copy = ROOT / "templates" / source.name
        assert hashlib.sha256(copy.read_bytes()).digest() == \
            hashlib.sha256(source.read_bytes()).digest(), source.name


def test_each_component_is_a_catalog_component(tmp_path: Path) -> None:
    """One `spec:` header and one job per file; the component name is the file name."""
    for path in sorted((ROOT / "templates").glob("*.yml")):
        documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        assert len(documents) == 2, path.name
        header, body = documents
        assert set(header) == {"spec"} and "inputs" in header["spec"], path.name
        assert len(body) == 1, path.name
        assert path.stem.replace("-", "").isalnum()


def test_check_reports_drift_a_stray_file_and_a_missing_copy(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    shutil.copytree(ROOT / "gitlab-templates", root / "gitlab-templates")
    assert sync(root, "--check").returncode == 1  # no templates/ yet
    written = sync(root)
    assert written.returncode == 0 and "wrote templates/" in written.stdout
    assert sync(root, "--check").returncode == 0

    first = sorted((root / "templates").glob("*.yml"))[0]
    first.write_bytes(first.read_bytes() + b"# edited by hand\n")
    (root / "templates" / "extra.yml").write_text("spec: {}\n---\n", encoding="utf-8")
    removed = sorted((root / "templates").glob("*.yml"))[-1]
    removed.unlink()
    proc = sync(root, "--check")
    assert proc.returncode == 1
    assert f"templates/{first.name}: differs" in proc.stderr
    assert "templates/extra.yml: not generated" in proc.stderr
    assert f"templates/{removed.name}: missing" in proc.stderr
    # Regenerating repairs all three.
    assert sync(root).returncode == 0
    assert sync(root, "--check").returncode == 0
    assert not (root / "templates" / "extra.yml").exists()
