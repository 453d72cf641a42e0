"""The OSV algorithm on real advisories, against the snapshot as a directory and as an all.zip.

Every expected result below was worked out by hand from the cited record (path under
`vulns/`), not by running the engine: the comments show the reasoning.
"""

from __future__ import annotations

import zipfile

import pytest
from audit_support import audit, ids, needs_snapshot, primary_ids

from changegate.gates.audit.database import Database, load_database
from changegate.gates.audit.osv import RecordError

pytestmark = needs_snapshot


# ansible-core/PYSEC-2024-36.yaml lists its events out of order:
#   introduced 2.16.0, fixed 2.16.3, introduced 2.15.0, fixed 2.15.9, introduced "0", fixed 2.14.4
# Sorted: [0, 2.14.4) [2.15.0, 2.15.9) [2.16.0, 2.16.3). Pre-releases of a fix are still affected.
@pytest.mark.parametrize(("version", "affected"), [
    ("2.11.0", True),
    ("2.14.3", True),
    ("2.14.4rc1", True),  # rc before the fix
    ("2.14.4", False),
    ("2.14.5", False),  # between the first fix and the second introduction
    ("2.15.0", True),
    ("2.15.8", True),
    ("2.15.9rc1", True),
    ("2.15.9", False),
    ("2.16.0", True),
    ("2.16.2", True),
    ("2.16.2.post1", True),  # not in the versions list: only a sorted walk finds it
    ("2.16.3rc1", True),
    ("2.16.3", False),
    ("2.17.0", False),
])
def test_events_out_of_order_are_sorted(db: Database, version: str, affected: bool) -> None:
    assert ("PYSEC-2024-36" in primary_ids(audit(db, "ansible-core", version))) is affected


# ansible/PYSEC-2017-4.yaml: introduced 2.4.0.0, fixed 2.4.1.0, introduced 2.3.0.0,
# fixed 2.3.3.0 (out of order, four-part versions that PEP 440 equates with 2.3.3 etc.)
@pytest.mark.parametrize(("version", "affected"), [
    ("2.2.3.0", False), ("2.3.0", True), ("2.3.2.0", True), ("2.3.3", False),
    ("2.3.3.0", False), ("2.4.0", True), ("2.4.0.0", True), ("2.4.1", False),
])
def test_unsorted_pairs_with_four_part_versions(db: Database, version: str,
                                                affected: bool) -> None:
    assert ("PYSEC-2017-4" in primary_ids(audit(db, "ansible", version))) is affected


# ansible/PYSEC-2020-208.yaml: [2.7.0, 2.8.0a1) [2.8.0, 2.8.13) [2.9.0, 2.9.10); a pre-release
# fix (2.8.0a1) closes the first range, so the 2.8.0 pre-releases are not affected; its versions
# list holds no pre-release at all.
@pytest.mark.parametrize(("version", "affected"), [
    ("2.6.20", False), ("2.7.0", True), ("2.7.18", True), ("2.8.0a1", False),
    ("2.8.0b1", False), ("2.8.0rc3", False), ("2.8.0", True), ("2.8.12", True),
    ("2.8.13", False), ("2.9.0rc1", False), ("2.9.0", True), ("2.9.10rc1", True),
    ("2.9.10", False),
])
def test_pre_release_fix_and_multiple_pairs(db: Database, version: str, affected: bool) -> None:
    assert ("PYSEC-2020-208" in primary_ids(audit(db, "ansible", version))) is affected


# py/PYSEC-2022-42969.yaml: introduced "0", last_affected 1.11.0 (inclusive); no fix exists.
@pytest.mark.parametrize(("version", "affected"), [
    ("1.4.32.dev1", True), ("1.10.0", True), ("1.11.0", True),
    ("1.11.0.post1", False), ("1.11.1rc1", False), ("1.11.1", False),
])
def test_last_affected_is_inclusive(db: Database, version: str, affected: bool) -> None:
    matches = audit(db, "py", version)
    assert ("PYSEC-2022-42969" in primary_ids(matches)) is affected
    if affected:
        match = next(m for m in matches if m.id == "PYSEC-2022-42969")
        assert match.fixed_in == ()  # last_affected names no fix


def test_versions_list_spelling_is_pep440(db: Database) -> None:
    # py/PYSEC-2022-42969.yaml lists "0.8.0-alpha2", which PEP 440 reads as 0.8.0a2.
    assert "PYSEC-2022-42969" in primary_ids(audit(db, "py", "0.8.0a2"))


# gevent/PYSEC-2023-177.yaml: range [0, 23.9.0), but its versions list also names 23.9.0 and
# 23.9.0.post1. The spec ORs the list with the ranges, so both are affected; 23.9.1 is not.
@pytest.mark.parametrize(("version", "affected"), [
    ("23.7.0", True), ("23.9.0", True), ("23.9.0.post1", True), ("23.9.1", False),
])
def test_versions_list_or_ranges(db: Database, version: str, affected: bool) -> None:
    assert ("PYSEC-2023-177" in primary_ids(audit(db, "gevent", version))) is affected


# django/PYSEC-2023-61.yaml: ranges start at 3.2 and 4.2 (so 3.2a1 < 3.2 is outside them) but
# the versions list names 3.2a1, 3.2rc1 and 4.2rc1: affected. 3.2.19 is the fix.
@pytest.mark.parametrize(("version", "affected"), [
    ("3.1.14", False), ("3.2a1", True), ("3.2rc1", True), ("3.2", True), ("3.2.18", True),
    ("3.2.19", False), ("4.1.8", True), ("4.1.9", False), ("4.2rc1", True), ("4.2.1", False),
])
def test_pre_releases_named_only_in_the_versions_list(db: Database, version: str,
                                                      affected: bool) -> None:
    assert ("PYSEC-2023-61" in primary_ids(audit(db, "Django", version))) is affected


# wagtail/PYSEC-2021-114.yaml: overlapping, unsorted pairs: introduced 2.11, fixed 2.11.7,
# introduced 0, fixed 2.11.6, introduced 2.12, fixed 2.12.4. Sorted walk: 0 I, 2.11 I,
# 2.11.6 F, 2.11.7 F, 2.12 I, 2.12.4 F -> the ranges end at 2.11.6, but the versions list
# names 2.11.6, so 2.11.6 is affected and 2.11.6.post1 (in neither) is not.
@pytest.mark.parametrize(("version", "affected"), [
    ("2.10.2", True), ("2.11.6", True), ("2.11.6.post1", False), ("2.11.7", False),
    ("2.12.3", True), ("2.12.4", False),
])
def test_overlapping_unsorted_ranges(db: Database, version: str, affected: bool) -> None:
    assert ("PYSEC-2021-114" in primary_ids(audit(db, "wagtail", version))) is affected


# gratient/PYSEC-2024-1.yaml: no ranges at all, versions ["0.5"] only.
@pytest.mark.parametrize(("version", "affected"), [
    ("0.5", True), ("0.5.0", True), ("0.4", False), ("0.5.1", False), ("0.6", False),
])
def test_versions_list_only(db: Database, version: str, affected: bool) -> None:
    assert ("PYSEC-2024-1" in primary_ids(audit(db, "gratient", version))) is affected


def test_withdrawn_records_are_skipped(db: Database) -> None:
    # aiohttp/PYSEC-2022-43059.yaml: introduced "0", no fix, versions list starts with '0.1',
    # withdrawn 2023-11-08 -> never reported.
    assert "PYSEC-2022-43059" not in ids(audit(db, "aiohttp", "0.1"))
    # loguru/PYSEC-2022-15.yaml is withdrawn (and has neither ranges nor versions);
    # loguru/PYSEC-2022-14.yaml ([0, 0.5.3)) still counts.
    assert primary_ids(audit(db, "loguru", "0.5.2")) == {"PYSEC-2022-14"}
    assert audit(db, "loguru", "0.5.3") == []


# accesscontrol/PYSEC-2021-335.yaml has a GIT range (introduced "0", fixed <commit>) that must
# be ignored, plus ECOSYSTEM [4.0, 4.3) [5.0, 5.2) and versions 4.0-4.2, 5.0, 5.1. If the GIT
# range were read as versions, "0" would open a range that no parseable fix closes.
@pytest.mark.parametrize(("version", "affected"), [
    ("3.0", False), ("4.0", True), ("4.2", True), ("4.3", False), ("5.1", True),
    ("5.2", False), ("6.0", False),
])
def test_git_ranges_are_ignored(db: Database, version: str, affected: bool) -> None:
    assert ("PYSEC-2021-335" in ids(audit(db, "AccessControl", version))) is affected


def test_names_are_pep503_normalised(db: Database) -> None:
    # jw.util/PYSEC-2020-341.yaml names the package "jw.util": [0, 2.3). Its versions list also
    # holds the junk entry "-class.-jw.util.version.Version-", which can never match.
    for spelling in ("jw.util", "JW_Util", "jw-util", "Jw..Util"):
        assert primary_ids(audit(db, spelling, "1.0")) == {"PYSEC-2020-341"}
    assert audit(db, "jw-util", "2.3") == []


def test_aliases_are_unified(db: Database) -> None:
    # distributed/PYSEC-2021-871.yaml and PYSEC-2021-872.yaml are one vulnerability
    # (both alias CVE-2021-42343 and GHSA-hwqr-f3v9-hwxr), both [0, 2021.10.0).
    matches = [m for m in audit(db, "distributed", "2021.9.0")
               if "CVE-2021-42343" in m.ids]
    assert len(matches) == 1
    match = matches[0]
    assert match.id == "PYSEC-2021-871"  # the smaller PYSEC id names the match
    assert match.records == ("PYSEC-2021-871", "PYSEC-2021-872")
    assert set(match.aliases) == {"PYSEC-2021-872", "CVE-2021-42343", "GHSA-hwqr-f3v9-hwxr",
                                  "GHSA-j8fq-86c5-5v2r"}
    assert match.fixed_in == ("2021.10.0",)


def test_aliases_unify_transitively(db: Database) -> None:
    # accesscontrol/PYSEC-2021-335.yaml (CVE-2021-32807) and PYSEC-2021-370.yaml
    # (CVE-2021-32811) both list GHSA-qcx9-j53g-ccgf: by OSV's meaning of `aliases` they
    # name one vulnerability, reported once, with both records and both CVEs kept.
    matches = audit(db, "accesscontrol", "4.2")
    assert len(matches) == 1
    assert matches[0].records == ("PYSEC-2021-335", "PYSEC-2021-370")
    assert {"CVE-2021-32807", "CVE-2021-32811"} <= set(matches[0].aliases)


def test_fixed_in_lists_fixes_above_the_version(db: Database) -> None:
    # PYSEC-2024-36 fixes: 2.14.4, 2.15.9, 2.16.3; from 2.15.5 only the last two help.
    match = next(m for m in audit(db, "ansible-core", "2.15.5") if m.id == "PYSEC-2024-36")
    assert match.fixed_in == ("2.15.9", "2.16.3")


def test_severity_from_cvss_v3(db: Database) -> None:
    # PYSEC-2024-36: CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N = 5.5 (medium).
    match = next(m for m in audit(db, "ansible-core", "2.15.5") if m.id == "PYSEC-2024-36")
    assert (match.severity.label, match.severity.score, match.severity.source) == (
        "medium", 5.5, "CVSS_V3")
    # apache-skywalking/PYSEC-2020-342.yaml: CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H = 9.8
    match = next(m for m in audit(db, "apache-skywalking", "1.0.1")
                 if m.id == "PYSEC-2020-342")
    assert (match.severity.label, match.severity.score) == ("critical", 9.8)


def test_records_without_severity_are_unknown(db: Database) -> None:
    # gratient/PYSEC-2024-1.yaml carries no severity at all.
    (match,) = audit(db, "gratient", "0.5")
    assert match.severity.level is None
    assert match.severity.label == "unknown"


def test_unparseable_range_is_a_located_error(db: Database) -> None:
    # binderhub/PYSEC-2021-371.yaml: ECOSYSTEM fixed "0.2.0-n653" is not PEP 440 (line 27
    # in the YAML); no versions list, so nothing can decide whether binderhub is affected.
    with pytest.raises(RecordError) as caught:
        audit(db, "binderhub", "0.1.0")
    err = caught.value
    assert err.rule == "OSV_RECORD_INVALID"
    assert err.record_id == "PYSEC-2021-371"
    assert "0.2.0-n653" in err.message
    assert err.location.file is not None
    if db.is_zip:
        assert err.location.file.endswith("all.zip!/PYSEC-2021-371.json")
        with zipfile.ZipFile(db.path) as zf:
            lines = zf.read("PYSEC-2021-371.json").decode().splitlines()
        assert err.location.line is not None
        assert lines[err.location.line - 1].strip() == '"fixed": "0.2.0-n653"'
    else:
        assert err.location.file.endswith("vulns/binderhub/PYSEC-2021-371.yaml")
        assert err.location.line == 27
    # steam/PYSEC-2019-125.yaml: fixed "2019-09-12" (line 15) -- a date, not a version.
    with pytest.raises(RecordError) as caught:
        audit(db, "steam", "1.0")
    assert caught.value.location.line is not None
    if not db.is_zip:
        assert caught.value.location.line == 15


def test_other_packages_are_not_blocked_by_a_bad_record(db: Database) -> None:
    assert audit(db, "binderhub-unrelated", "1.0") == []


def test_year_one_modified_survives_the_cache(db: Database,
                                              tmp_path_factory: pytest.TempPathFactory) -> None:
    # cipherbcrypt/PYSEC-2024-55.yaml: `modified: 0001-01-01T00:00:00Z`, introduced "0" and
    # no fix (a malicious package): every version is affected.
    assert primary_ids(audit(db, "cipherbcrypt", "1.0")) == {"PYSEC-2024-55"}
    cache = tmp_path_factory.mktemp("cache")
    load_database(db.path, cache_dir=cache)
    warm = load_database(db.path, cache_dir=cache)
    assert warm.from_cache
    (match,) = audit(warm, "cipherbcrypt", "99")
    assert match.id == "PYSEC-2024-55"
