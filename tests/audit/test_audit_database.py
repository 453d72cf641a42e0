"""Loading an OSV database: manifest digest, containers, bad input, pin, freshness, cache."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from audit_support import (
    SNAPSHOT,
    SNAPSHOT_RECORDS,
    SNAPSHOT_SHA256,
    audit,
    build_same_bytes_zip,
    needs_snapshot,
    primary_ids,
    snapshot_files,
)

from changegate.errors import ChangegateError, InputError
from changegate.gates.audit import documents, osv
from changegate.gates.audit.database import (
    Database,
    DatabasePinMismatch,
    DatabaseStale,
    Manifest,
    check_freshness,
    check_pin,
    default_cache_dir,
    load_database,
)
from changegate.gates.audit.osv import RecordError

GOOD = """\
id: TEST-1
modified: 2024-01-01T00:00:00Z
affected:
- package:
    ecosystem: PyPI
    name: demo
  ranges:
  - type: ECOSYSTEM
    events:
    - introduced: "0"
    - fixed: "1.0"
"""


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# -- the manifest ----------------------------------------------------------------------------
@needs_snapshot
def test_snapshot_manifest(dir_db: Database) -> None:
    assert dir_db.manifest.sha256 == SNAPSHOT_SHA256
    assert dir_db.manifest.records == SNAPSHOT_RECORDS == len(snapshot_files())
    # The newest `modified` is jwcrypto/PYSEC-2024-104.yaml's 2024-10-10T17:22:00.587279Z.
    assert dir_db.manifest.newest_modified == datetime(2024, 10, 10, 17, 22, 0, 587279,
                                                       tzinfo=timezone.utc)
    assert dir_db.manifest.to_json() == {"sha256": SNAPSHOT_SHA256, "records": 2661,
                                         "newest_modified": "2024-10-10T17:22:00.587279Z"}
    assert dir_db.skipped == ()


@needs_snapshot
@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="coreutils sha256sum missing")
def test_digest_is_reproducible_with_coreutils() -> None:
    # The definition documented in database.py, run with nothing but coreutils.
    pipeline = (
        "find . -path '*/.*' -prune -o -type f \\( -iname '*.json' -o -iname '*.yaml' "
        "-o -iname '*.yml' \\) -print | sed 's|^\\./||' | LC_ALL=C sort | xargs sha256sum "
        "| sha256sum"
    )
    out = subprocess.run(["bash", "-c", pipeline], cwd=SNAPSHOT, check=True,
                         capture_output=True, text=True).stdout
    assert out.split()[0] == SNAPSHOT_SHA256


@needs_snapshot
def test_zip_of_the_same_files_has_the_same_digest(tmp_path: Path) -> None:
    # LICENSE, README.md, SOURCE.md and vulns/.id-allocator are in the zip too: not records.
    db = load_database(build_same_bytes_zip(tmp_path / "same.zip"))
    assert db.is_zip
    assert db.manifest.sha256 == SNAPSHOT_SHA256
    assert db.manifest.records == SNAPSHOT_RECORDS


@needs_snapshot
def test_converted_zip_is_another_artefact_with_the_same_content(zip_db: Database,
                                                                 dir_db: Database) -> None:
    assert zip_db.manifest.sha256 != SNAPSHOT_SHA256  # JSON bytes, other names
    assert zip_db.manifest.records == dir_db.manifest.records
    assert zip_db.manifest.newest_modified == dir_db.manifest.newest_modified


def test_hidden_and_non_record_files_are_not_part_of_the_database(tmp_path: Path) -> None:
    write(tmp_path, "vulns/demo/TEST-1.yaml", GOOD)
    write(tmp_path, ".git/config.yaml", "not: [valid")
    write(tmp_path, "vulns/.hidden.yaml", "not: [valid")
    write(tmp_path, "README.md", "# readme")
    db = load_database(tmp_path)
    assert db.manifest.records == 1


# -- the containers --------------------------------------------------------------------------
def test_missing_database(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_database(tmp_path / "nope")
    assert caught.value.rule == "DB_MISSING"
    assert caught.value.location.file == str(tmp_path / "nope")


def test_empty_database_is_not_a_pass(tmp_path: Path) -> None:
    write(tmp_path, "README.md", "no records here")
    with pytest.raises(InputError) as caught:
        load_database(tmp_path)
    assert caught.value.rule == "DB_EMPTY"


def test_not_a_zip(tmp_path: Path) -> None:
    bogus = tmp_path / "all.zip"
    bogus.write_bytes(b"this is not a zip archive")
    with pytest.raises(InputError) as caught:
        load_database(bogus)
    assert caught.value.rule == "DB_CORRUPT"
    assert caught.value.location.file == str(bogus)


def test_truncated_zip(tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(20):
            zf.writestr(f"TEST-{i}.yaml", GOOD.replace("TEST-1", f"TEST-{i}") * 1)
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])  # the central directory is gone
    with pytest.raises(InputError) as caught:
        load_database(archive)
    assert caught.value.rule == "DB_CORRUPT"


def test_corrupt_zip_member_is_named(tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    payload = GOOD + "details: " + "x" * 4000 + "\n"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("TEST-1.yaml", payload)
    data = bytearray(archive.read_bytes())
    offset = data.index(b"x" * 100)
    data[offset:offset + 4] = b"yyyy"  # same length, wrong CRC
    archive.write_bytes(bytes(data))
    with pytest.raises(InputError) as caught:
        load_database(archive)
    assert caught.value.rule == "DB_CORRUPT"
    assert caught.value.location.file == f"{archive}!/TEST-1.yaml"


# -- malformed records -----------------------------------------------------------------------
BAD_RECORDS = {
    # name: (relative path, text, expected line, words in the message)
    "yaml syntax": ("a/BAD-1.yaml", GOOD.replace('    - fixed: "1.0"', '    - fixed: [1.0'),
                    None, "not valid YAML"),
    "missing id": ("a/BAD-2.yaml", GOOD.replace("id: TEST-1\n", ""), 1, "'id'"),
    "events not a list": ("a/BAD-3.yaml", GOOD.replace(
        '    events:\n    - introduced: "0"\n    - fixed: "1.0"\n', "    events: oops\n"),
        9, "must be a list"),
    "two kinds in one event": ("a/BAD-4.yaml", GOOD.replace(
        '    - fixed: "1.0"', '    - fixed: "1.0"\n      introduced: "0.5"'), 11,
        "exactly one of"),
    "bad timestamp": ("a/BAD-5.yaml", GOOD.replace("2024-01-01T00:00:00Z", "yesterday"), 2,
                      "RFC 3339"),
    "json syntax": ("a/BAD-6.json", '{\n  "id": "BAD-6",\n  "modified": \n}\n', 4,
                    "not valid JSON"),
    "json wrong type": ("a/BAD-7.json",
                        '{\n  "id": "BAD-7",\n  "modified": "2024-01-01T00:00:00Z",\n'
                        '  "affected": [\n    {\n      "package": {"ecosystem": "PyPI", '
                        '"name": "demo"},\n      "versions": [\n        "1.0",\n        2\n'
                        "      ]\n    }\n  ]\n}\n", 9, "must be a string"),
}


@pytest.mark.parametrize("case", sorted(BAD_RECORDS))
def test_malformed_record_is_located(tmp_path: Path, case: str) -> None:
    relative, text, line, words = BAD_RECORDS[case]
    write(tmp_path, "a/GOOD.yaml", GOOD)
    write(tmp_path, relative, text)
    with pytest.raises(RecordError) as caught:
        load_database(tmp_path)
    err = caught.value
    assert err.rule == "OSV_RECORD_INVALID"
    assert err.location.file == str(tmp_path / relative)
    assert words in err.message
    if line is not None:
        assert err.location.line == line
    else:
        assert err.location.line is not None  # libyaml's error mark


def test_yaml_syntax_error_line(tmp_path: Path) -> None:
    text = GOOD.replace('    - fixed: "1.0"', '    - fixed: [1.0')
    write(tmp_path, "BAD.yaml", text)
    with pytest.raises(RecordError) as caught:
        load_database(tmp_path)
    assert caught.value.location.line is not None
    assert caught.value.location.line >= 11  # the unclosed flow sequence starts on line 11


def test_bad_records_can_be_skipped_and_are_reported(tmp_path: Path) -> None:
    write(tmp_path, "a/GOOD.yaml", GOOD)
    for relative, text, _, _ in BAD_RECORDS.values():
        write(tmp_path, relative, text)
    with pytest.raises(RecordError) as caught:
        load_database(tmp_path)
    assert f"and {len(BAD_RECORDS) - 1} more bad records" in caught.value.message
    db = load_database(tmp_path, skip_bad_records=True)
    assert db.skip_bad_records
    assert db.manifest.records == len(BAD_RECORDS) + 1  # every file is in the manifest
    assert sorted(Path(s.file).name for s in db.skipped) == sorted(
        Path(r).name for r, _, _, _ in BAD_RECORDS.values())
    assert all(s.reason for s in db.skipped)
    by_name = {Path(s.file).name: s for s in db.skipped}
    assert by_name["BAD-7.json"].line == 9
    assert by_name["BAD-7.json"].record_id == "BAD-7"
    assert by_name["BAD-7.json"].to_json()["file"].endswith("BAD-7.json")
    assert primary_ids(audit(db, "demo", "0.9")) == {"TEST-1"}


def test_duplicate_ids(tmp_path: Path) -> None:
    write(tmp_path, "a/TEST-1.yaml", GOOD)
    write(tmp_path, "b/TEST-1.yaml", GOOD)
    with pytest.raises(RecordError) as caught:
        load_database(tmp_path)
    assert "duplicate id" in caught.value.message
    assert caught.value.location.file == str(tmp_path / "b/TEST-1.yaml")
    db = load_database(tmp_path, skip_bad_records=True)
    assert [s.file for s in db.skipped] == [str(tmp_path / "b/TEST-1.yaml")]


@needs_snapshot
def test_skipping_reports_records_that_cannot_be_evaluated() -> None:
    db = load_database(SNAPSHOT, skip_bad_records=True)
    skipped = {s.record_id: s for s in db.skipped}
    assert set(skipped) == {"PYSEC-2021-371", "PYSEC-2019-125"}  # binderhub, steam
    assert skipped["PYSEC-2021-371"].line == 27
    assert skipped["PYSEC-2021-371"].packages == ("binderhub",)
    assert "0.2.0-n653" in skipped["PYSEC-2021-371"].reason
    assert skipped["PYSEC-2019-125"].line == 15
    # The audit goes on: the unevaluable range is skipped (it is reported above).
    assert audit(db, "binderhub", "0.1.0") == []


def test_plain_yaml_loader_matches_pyyaml(tmp_path: Path) -> None:
    text = "a: 1.10\nb: [yes, null, ~, 0x1]\nc: !!int '3'\nd: &x {k: v}\ne: *x\n"
    raw = text.encode()
    expected = yaml.load(raw, Loader=yaml.BaseLoader)  # noqa: S506 - strings only
    assert documents.load_document(raw, "x.yaml") == expected
    assert documents.load_document(raw, "x.yaml")["a"] == "1.10"  # not the float 1.1


@needs_snapshot
def test_plain_yaml_loader_matches_pyyaml_on_the_snapshot() -> None:
    for path in snapshot_files():
        raw = path.read_bytes()
        expected = yaml.load(raw, Loader=yaml.CBaseLoader)  # noqa: S506 - strings only
        assert documents.load_document(raw, path.name) == expected, path


def test_recursive_yaml_alias_is_bad_input(tmp_path: Path) -> None:
    write(tmp_path, "R.yaml", "&a [*a]\n")
    with pytest.raises(RecordError):
        load_database(tmp_path)


# -- pin and freshness -----------------------------------------------------------------------
def test_pin(tmp_path: Path) -> None:
    write(tmp_path, "TEST-1.yaml", GOOD)
    digest = load_database(tmp_path).manifest.sha256
    assert load_database(tmp_path, expected_sha256=digest).manifest.sha256 == digest
    load_database(tmp_path, expected_sha256="sha256:" + digest.upper())
    with pytest.raises(DatabasePinMismatch) as caught:
        load_database(tmp_path, expected_sha256="0" * 64)
    assert caught.value.rule == "DB_SHA256_MISMATCH"
    assert caught.value.actual == digest
    with pytest.raises(InputError) as bad:
        load_database(tmp_path, expected_sha256="abc")
    assert bad.value.rule == "DB_SHA256_INVALID"
    manifest = Manifest(digest, 1, None)
    check_pin(manifest, digest)
    with pytest.raises(DatabasePinMismatch):
        check_pin(manifest, "f" * 64)


def test_freshness() -> None:
    newest = datetime(2024, 10, 10, 17, 22, tzinfo=timezone.utc)
    manifest = Manifest("0" * 64, 1, newest)
    fresh = check_freshness(manifest, 7, now=newest + timedelta(days=3))
    assert not fresh.stale
    assert fresh.to_json() == {"age_days": 3.0, "max_age_days": 7, "stale": False}
    with pytest.raises(DatabaseStale) as caught:
        check_freshness(manifest, 7, now=newest + timedelta(days=30), path="db")
    assert caught.value.rule == "DB_STALE"
    assert "30 days" in caught.value.message
    assert isinstance(caught.value, ChangegateError)
    allowed = check_freshness(manifest, 7, now=newest + timedelta(days=30), allow_stale=True)
    assert allowed.stale
    with pytest.raises(DatabaseStale):
        check_freshness(Manifest("0" * 64, 1, None), 7)


# -- the index cache -------------------------------------------------------------------------
def test_cache_is_keyed_by_content(tmp_path: Path) -> None:
    root, cache = tmp_path / "db", tmp_path / "cache"
    write(root, "TEST-1.yaml", GOOD)
    cold = load_database(root, cache_dir=cache)
    warm = load_database(root, cache_dir=cache)
    assert (cold.from_cache, warm.from_cache) == (False, True)
    assert warm.manifest == cold.manifest
    assert primary_ids(audit(warm, "demo", "0.5")) == {"TEST-1"}
    # Same size, same mtime, other content: the digest, not the stat, keys the cache.
    path = root / "TEST-1.yaml"
    stat = path.stat()
    path.write_text(GOOD.replace('"1.0"', '"0.1"'))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    changed = load_database(root, cache_dir=cache)
    assert not changed.from_cache
    assert changed.manifest.sha256 != cold.manifest.sha256
    assert audit(changed, "demo", "0.5") == []


def test_corrupt_cache_is_rebuilt(tmp_path: Path) -> None:
    root, cache = tmp_path / "db", tmp_path / "cache"
    write(root, "TEST-1.yaml", GOOD)
    load_database(root, cache_dir=cache)
    (cache_file,) = cache.glob("osv-index-*.json")
    cache_file.write_text("{not json")
    again = load_database(root, cache_dir=cache)
    assert not again.from_cache
    assert primary_ids(audit(again, "demo", "0.5")) == {"TEST-1"}
    assert load_database(root, cache_dir=cache).from_cache


def test_unwritable_cache_costs_only_time(tmp_path: Path) -> None:
    root = tmp_path / "db"
    write(root, "TEST-1.yaml", GOOD)
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory should be")
    db = load_database(root, cache_dir=blocker / "cache")
    assert primary_ids(audit(db, "demo", "0.5")) == {"TEST-1"}


def test_pin_is_checked_before_the_cache(tmp_path: Path) -> None:
    root, cache = tmp_path / "db", tmp_path / "cache"
    write(root, "TEST-1.yaml", GOOD)
    load_database(root, cache_dir=cache)
    with pytest.raises(DatabasePinMismatch):
        load_database(root, cache_dir=cache, expected_sha256="1" * 64)


@needs_snapshot
def test_cached_snapshot_gives_the_same_answers(tmp_path: Path, dir_db: Database) -> None:
    load_database(SNAPSHOT, cache_dir=tmp_path)
    warm = load_database(SNAPSHOT, cache_dir=tmp_path)
    assert warm.from_cache
    assert warm.manifest == dir_db.manifest
    for name, version in [("ansible-core", "2.16.2"), ("Django", "3.2"), ("py", "1.11.0")]:
        assert audit(warm, name, version) == audit(dir_db, name, version)


@needs_snapshot
def test_every_snapshot_record_survives_the_index_form() -> None:
    for path in snapshot_files():
        record = osv.read_record(path.read_bytes(), path.name)
        assert osv.Record.from_json(record.to_json()) == record, path


def test_cache_that_does_not_fit_is_rebuilt_or_inconclusive(tmp_path: Path) -> None:
    root, cache = tmp_path / "db", tmp_path / "cache"
    write(root, "TEST-1.yaml", GOOD)
    load_database(root, cache_dir=cache)
    (cache_file,) = cache.glob("osv-index-*.json")
    index = json.loads(cache_file.read_text())
    # claims another database: not used
    cache_file.write_text(json.dumps({**index, "manifest": {**index["manifest"],
                                                             "sha256": "0" * 64}}))
    assert not load_database(root, cache_dir=cache).from_cache
    # plausible but with an entry the model cannot read: never a pass, exit 2
    index["records"][0]["modified"] = "garbage"
    cache_file.write_text(json.dumps(index))
    db = load_database(root, cache_dir=cache)
    assert db.from_cache
    with pytest.raises(ChangegateError) as caught:
        audit(db, "demo", "0.5")
    assert caught.value.rule == "DB_CACHE_CORRUPT"


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "changegate" / "osv"
