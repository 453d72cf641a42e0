"""pip-audit's OSV and PyPI services, for real, against a local server with realistic replies.

The server (gate_support.api_server) answers OSV's `POST /v1/query` with full OSV records and
PyPI's `GET /pypi/NAME/VERSION/json` with the JSON API's `vulnerabilities` list, from the demo
database. pip-audit's own `OsvService`/`PyPIService` make the requests.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from gate_support import LINES, Api, api_server, cli, project


@pytest.fixture
def api() -> Api:
    return Api()


def test_osv_service_rates_severity_from_the_records(tmp_path: Path, api: Api) -> None:
    root = project(tmp_path)
    with api_server(api) as url:
        run_ = cli(["--service", "osv", "--service-url", f"{url}/v1/query", "--json"], root)
    assert run_.code == 1, run_.out
    document = run_.json
    vulns = {(v["package"], v["id"]): v for v in document["vulnerabilities"]}
    assert set(vulns) == {("urllib3", "PYSEC-2023-192"), ("urllib3", "PYSEC-2023-207"),
                          ("urllib3", "PYSEC-2023-212"), ("werkzeug", "PYSEC-2023-221"),
                          ("requests", "PYSEC-2023-74"), ("jinja2", "PYSEC-2021-66")}
    werkzeug = vulns[("werkzeug", "PYSEC-2023-221")]
    assert (werkzeug["severity"], werkzeug["score"]) == ("high", 7.5)
    assert werkzeug["fixed_in"] == ["2.3.8", "3.0.1"]
    assert werkzeug["aliases"] == ["CVE-2023-46136", "GHSA-hrfv-mqp8-q5rw"]
    assert vulns[("requests", "PYSEC-2023-74")]["severity"] == "unknown"
    database = document["database"]
    assert database["service"] == "osv" and database["url"] == f"{url}/v1/query"
    assert database["records"] == 6 and len(database["sha256"]) == 64
    assert database["newest_modified"] == "2023-11-08T18:38:34.170214Z"
    assert {r["id"] for r in document["online_records"]} == {v[1] for v in vulns}
    assert [m for m, _ in api.requests] == ["POST"] * 5  # one query per package
    lines = {f["location"]["line"] for f in document["findings"]}
    assert lines == {LINES[p] for p in ("urllib3", "werkzeug", "requests", "jinja2")}


def test_pypi_service_through_its_json_api(tmp_path: Path, api: Api) -> None:
    root = project(tmp_path)
    with api_server(api) as url:
        run_ = cli(["--service", "pypi", "--service-url", url, "--json"], root)
    assert run_.code == 1, run_.out
    document = run_.json
    ids = {v["id"] for v in document["vulnerabilities"]}
    assert ids == {"PYSEC-2023-192", "PYSEC-2023-207", "PYSEC-2023-212", "PYSEC-2023-221",
                   "PYSEC-2023-74", "PYSEC-2021-66"}
    # PyPI's JSON API carries no severity: every advisory is unrated, and the policy decides
    assert {v["severity"] for v in document["vulnerabilities"]} == {"unknown"}
    assert {f["rule"] for f in document["findings"]} == {"UNRATED_VULNERABILITY"}
    assert ("GET", "/pypi/urllib3/1.24.1/json") in api.requests
    urllib3 = next(v for v in document["vulnerabilities"] if v["id"] == "PYSEC-2023-192")
    assert urllib3["fixed_in"] == ["1.26.17", "2.0.6"]
    assert document["database"]["service"] == "pypi"
    assert document["database"]["newest_modified"] is None  # PyPI gives no `modified`


def test_a_package_pypi_does_not_know_is_inconclusive(tmp_path: Path, api: Api) -> None:
    root = project(tmp_path, {"requirements.txt": "urllib3==2.2.3\nacme-internal==1.0\n"})
    with api_server(api) as url:
        run_ = cli(["--service", "pypi", "--service-url", url, "--json"], root)
    assert run_.code == 2
    (finding,) = run_.json["findings"]
    assert finding["rule"] == "PACKAGE_NOT_FOUND"
    assert finding["location"] == {"file": "requirements.txt", "line": 2}


@pytest.mark.parametrize("service", ["osv", "pypi"])
@pytest.mark.parametrize("failure", ["500", "garbage", "no-vulns-key"])
def test_service_failures_are_inconclusive(tmp_path: Path, api: Api, service: str,
                                           failure: str) -> None:
    api.fail = failure
    root = project(tmp_path, {"requirements.txt": "urllib3==1.24.1\n"})
    with api_server(api) as url:
        target = f"{url}/v1/query" if service == "osv" else url
        run_ = cli(["--service", service, "--service-url", target, "--json"], root)
    if failure == "no-vulns-key" and service == "pypi":
        # a JSON API reply without `vulnerabilities` means "none known" to pip-audit (and PyPI)
        assert run_.code == 0, run_.out
        return
    assert run_.code == 2, run_.out
    finding = run_.json["findings"][0]
    assert finding["rule"] == "SERVICE_ERROR"
    assert url in finding["message"]


def test_an_unreachable_service_is_inconclusive(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = project(tmp_path, {"requirements.txt": "urllib3==1.24.1\n"})
    for service, url in (("osv", f"http://127.0.0.1:{port}/v1/query"),
                         ("pypi", f"http://127.0.0.1:{port}")):
        run_ = cli(["--service", service, "--service-url", url, "--json"], root)
        assert run_.code == 2, run_.out
        finding = run_.json["findings"][0]
        assert finding["rule"] == "SERVICE_UNAVAILABLE"
        assert f"127.0.0.1:{port}" in finding["message"]


def test_plain_http_only_to_loopback(tmp_path: Path) -> None:
    run_ = cli(["--service", "osv", "--service-url", "http://osv.example/v1/query", "--json"],
               project(tmp_path))
    assert run_.code == 2
    assert run_.json["findings"][0]["rule"] == "AUDIT_USAGE"


def test_db_sha256_needs_a_database(tmp_path: Path) -> None:
    run_ = cli(["--service", "osv", "--db-sha256", "0" * 64, "--json"], project(tmp_path))
    assert run_.code == 2
    assert run_.json["findings"][0]["rule"] == "AUDIT_USAGE"


def test_policy_selects_the_online_service(tmp_path: Path, api: Api) -> None:
    from changegate.gates.audit.config import AuditConfig
    from changegate.gates.audit.gate import AuditRequest, run

    root = project(tmp_path, {"requirements.txt": "werkzeug==2.2.2\n"})
    with api_server(api) as url:
        config = AuditConfig.from_settings({"service": "osv", "service_url": f"{url}/v1/query",
                                            "fail_on": "critical"})
        result = run(AuditRequest(workdir=root, environ={}), config).result
    assert result.status.value == "pass"
    assert [f.rule for f in result.findings] == ["VULNERABILITY_BELOW_THRESHOLD"]
    assert "pip-audit osv service" in result.summary


def test_a_timeout_is_inconclusive(tmp_path: Path, api: Api) -> None:
    from changegate.errors import ChangegateError
    from changegate.gates.audit.config import AuditConfig
    from changegate.gates.audit.gate import AuditRequest, run

    api.fail = "slow"
    root = project(tmp_path, {"requirements.txt": "urllib3==1.24.1\n"})
    with api_server(api) as url:
        config = AuditConfig.from_settings({"service": "osv", "service_url": f"{url}/v1/query",
                                            "timeout_seconds": 1})
        with pytest.raises(ChangegateError) as raised:
            run(AuditRequest(workdir=root, environ={}), config)
    assert raised.value.rule == "SERVICE_UNAVAILABLE"
    assert "Timeout" in raised.value.message
