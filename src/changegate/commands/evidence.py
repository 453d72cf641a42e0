"""`changegate evidence record|verify|report|export`: the auditor-facing side of the evidence.

Not a gate: it decides nothing about a change. Exit codes: 0 ok, 1 tampering (or a failed
requirement such as `--require-signed`) found, 2 unusable input (no ledger, unreadable store,
bad arguments). `check` records evidence itself; `record` is for pipelines that run gates as
separate steps and collect their `--json` documents.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from changegate.evidence.stores import Store
    from changegate.result import GateResult

HELP = "record, verify and report the evidence of gate decisions"
DEFAULT_DIR = ".changegate/evidence"


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    record = actions.add_parser("record", help="record gate results (their --json documents)")
    record.add_argument("results", nargs="+", metavar="RESULT.json",
                        help="`changegate <gate> --json` or `changegate check --json` output")
    _store_options(record)
    record.add_argument("-C", "--directory", metavar="DIR", help="the repository (default: .)")
    record.add_argument("--policy", metavar="FILE", help="policy file (default: .changegate.yml)")
    record.add_argument("--trust-worktree", action="store_true",
                        help="read the policy from the working tree, not the base revision")
    record.add_argument("--environment", metavar="NAME", help="deployment environment")
    record.add_argument("--base", help="exclusive lower bound of the range (default: from CI)")
    record.add_argument("--head", help="the change's head commit (default: from CI, or HEAD)")
    record.add_argument("--retention-years", metavar="N", type=int,
                        help="with --store: years records must be locked (retention mode)")
    record.add_argument("--mode", choices=("retention", "plain"),
                        help="with --store: refuse unless the lock is verified (retention, the "
                             "default) or archive without a verified lock (plain)")
    # dest `as_json`: the CLI treats a namespace with `json` as a gate command's.
    record.add_argument("--json", action="store_true", dest="as_json",
                        help="print the outcome as JSON")

    verify = actions.add_parser("verify", help="verify a ledger and its records offline")
    _store_options(verify)
    verify.add_argument("--record", metavar="SHA256", help="also require this change record")
    verify.add_argument("--expect-head", metavar="SHA256",
                        help="an entry hash kept elsewhere (CI log, earlier export) that must "
                             "still be in the ledger: detects deletion of the newest entries")
    verify.add_argument("--expect-size", metavar="N", type=int,
                        help="the ledger must hold at least N entries")
    verify.add_argument("--require-signed", action="store_true",
                        help="fail on records kept unsigned")
    verify.add_argument("--cert-identity", metavar="ID",
                        help="verify signatures cryptographically for this signer identity")
    verify.add_argument("--cert-oidc-issuer", metavar="URL", help="the identity's OIDC issuer")
    verify.add_argument("--trusted-root", metavar="FILE",
                        help="Sigstore trusted root (default: the public-good root shipped "
                             "with sigstore-python, used offline)")
    verify.add_argument("--staging", action="store_true", help="use Sigstore staging's root")
    verify.add_argument("--json", action="store_true", dest="as_json",
                        help="print the result as JSON")

    report = actions.add_parser("report", help="HTML and Markdown report of a change")
    _store_options(report)
    report.add_argument("--record", metavar="SHA256", help="the change (default: the latest)")
    report.add_argument("--all", action="store_true",
                        help="every change in the period (with --out-dir)")
    _period_options(report)
    report.add_argument("--html", metavar="FILE", help="write the HTML page to FILE")
    report.add_argument("--markdown", metavar="FILE", help="write the Markdown summary to FILE")
    report.add_argument("--out-dir", metavar="DIR",
                        help="write <record>.html and <record>.md per change into DIR")
    report.add_argument("--no-verify", action="store_true",
                        help="skip verifying the ledger before reporting")

    export = actions.add_parser("export", help="population of changes in a period (CSV/JSON)")
    _store_options(export)
    _period_options(export)
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("--output", metavar="FILE", help="write to FILE (default: stdout)")


def _store_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("evidence store")
    group.add_argument("--dir", metavar="DIR", default=None,
                       help=f"evidence directory (default: {DEFAULT_DIR})")
    group.add_argument("--store", metavar="s3://BUCKET/PREFIX",
                       help="read (or also write) an S3-compatible store")
    group.add_argument("--endpoint-url", metavar="URL", help="S3 endpoint (default: AWS)")
    group.add_argument("--region", metavar="REGION", help="S3 region")


def _period_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", metavar="DATE", help="from this date/time (inclusive, UTC)")
    parser.add_argument("--until", metavar="DATE", help="to this date/time (exclusive, UTC)")


def execute(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from changegate.errors import ChangegateError

    handlers = {"record": _record, "verify": _verify, "report": _report, "export": _export}
    try:
        return handlers[args.action](args, environ)
    except ChangegateError as exc:
        sys.stderr.write(f"changegate evidence {args.action}: {exc}\n")
        if exc.fix:
            sys.stderr.write(f"  fix: {exc.fix}\n")
        return 2


# -- opening stores -----------------------------------------------------------------------


def _s3_settings(uri: str, args: argparse.Namespace) -> dict[str, Any]:
    from changegate.errors import ChangegateError

    if not uri.startswith("s3://") or len(uri) <= 5:
        raise ChangegateError("BAD_INPUT", f"--store {uri!r} is not an s3://BUCKET[/PREFIX] URI")
    bucket, _, prefix = uri[5:].partition("/")
    return {"type": "s3", "bucket": bucket, "prefix": prefix, "mode": "plain",
            "endpoint_url": args.endpoint_url, "region": args.region}


def open_for_reading(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[Store, str]:
    """The store named on the command line, and the options that name it (for commands)."""
    from changegate.errors import ChangegateError
    from changegate.evidence.settings import StoreSettings
    from changegate.evidence.stores import open_store
    from changegate.evidence.stores.directory import LEDGER

    if args.store:
        settings = StoreSettings.from_mapping(_s3_settings(args.store, args))
        where = f"--store {args.store}"
        if args.endpoint_url:
            where += f" --endpoint-url {args.endpoint_url}"
        return open_store(settings, directory=Path("."), environ=environ), where
    directory = args.dir or DEFAULT_DIR
    path = Path(directory)
    if not (path / LEDGER).is_file():
        raise ChangegateError("EVIDENCE_NOT_FOUND", f"{path / LEDGER} does not exist",
                              fix="pass --dir with the evidence directory (the CI artifact)")
    from changegate.evidence.stores.directory import DirectoryStore

    return DirectoryStore(path, label=directory), f"--dir {directory}"


# -- record -------------------------------------------------------------------------------


def _record(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from changegate.context import detect_change
    from changegate.evidence.recorder import record_check
    from changegate.policy import DEFAULT_POLICY_PATH, TrustedSource, load_policy

    workdir = Path(args.directory or ".").resolve()
    results = [r for path in args.results for r in load_results(Path(path))]
    change = detect_change(environ, workdir, base=args.base, head=args.head)
    trusted = TrustedSource(workdir, None if args.trust_worktree else change.policy_revision)
    try:
        policy = load_policy(trusted, args.policy or DEFAULT_POLICY_PATH)
    finally:
        trusted.close()
    environment = args.environment or (policy.match_environment(change) if policy else None)
    settings: dict[str, Any] = dict(policy.data.get("evidence") or {}) if policy else {}
    if args.dir:
        settings["dir"] = args.dir
    if args.store:
        store = dict(settings.get("store") or {})
        mode = args.mode or store.get("mode", "retention")
        store.update({k: v for k, v in _s3_settings(args.store, args).items() if v is not None})
        store["mode"] = mode
        if args.retention_years is not None:
            store["retention_years"] = args.retention_years
        settings["store"] = store
    outcome = record_check(results, change=change, policy=policy, environment=environment,
                           settings=settings, environ=environ, workdir=workdir, signer=None)
    if args.as_json:
        sys.stdout.write(json.dumps(outcome, indent=2) + "\n")
    sys.stderr.write(f"recorded {len(results)} gate result(s): change record "
                     f"{outcome['record_sha256']} ({outcome['verdict']}, "
                     f"{'signed' if outcome['signed'] else 'unsigned'}) in {outcome['path']}\n"
                     f"verify with: {outcome['verify_command']}\n")
    return 0


def load_results(path: Path) -> list[GateResult]:
    """Gate results from a `--json` document (one gate, or `check`'s `results` list)."""
    from changegate.errors import InputError

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read gate results: {exc}", file=str(path)) from exc
    if not isinstance(document, dict):
        raise InputError("a gate result document is a JSON object", file=str(path))
    items = document.get("results") if "results" in document else [document]
    if not isinstance(items, list):
        raise InputError("`results` must be a list", file=str(path))
    return [result_from_json(item, str(path)) for item in items]


def result_from_json(item: object, source: str) -> GateResult:
    from changegate.errors import InputError
    from changegate.result import Finding, GateResult, Location, Severity, Status

    core = ("gate", "status", "summary", "findings")
    if not isinstance(item, dict) or not all(k in item for k in core):
        raise InputError(f"a gate result needs {', '.join(core)}", file=source)
    try:
        findings = [Finding(rule=f["rule"], severity=Severity(f["severity"]),
                            message=f["message"], location=Location(**f.get("location", {})),
                            fix=f.get("fix"), title=f.get("title"), help_uri=f.get("help_uri"))
                    for f in item["findings"]]
        status = Status(item["status"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"malformed gate result for {item.get('gate')}: {exc}",
                         file=source) from exc
    details = {k: v for k, v in item.items() if k not in core}
    return GateResult(gate=str(item["gate"]), status=status, summary=str(item["summary"]),
                      findings=findings, details=details)


# -- verify -------------------------------------------------------------------------------


def _verify(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from changegate.errors import ChangegateError
    from changegate.evidence.verify import verify_store

    store, _ = open_for_reading(args, environ)
    verifier = None
    if args.cert_identity or args.cert_oidc_issuer:
        if not (args.cert_identity and args.cert_oidc_issuer):
            raise ChangegateError("BAD_INPUT", "--cert-identity and --cert-oidc-issuer go "
                                  "together")
        from changegate.evidence.signing import SigstoreBundleVerifier

        verifier = SigstoreBundleVerifier.from_options(
            identity=args.cert_identity, issuer=args.cert_oidc_issuer,
            trusted_root=args.trusted_root, staging=args.staging)
    result = verify_store(store, verifier=verifier, require_signed=args.require_signed,
                          expect_head=args.expect_head, expect_size=args.expect_size,
                          record=args.record)
    if result.entries == 0 and not result.problems:
        raise ChangegateError("EVIDENCE_NOT_FOUND", f"{store.label} holds no ledger entries")
    if args.as_json:
        sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
    for problem in result.problems:
        sys.stderr.write(f"TAMPERED {problem.describe()}\n")
    for warning in result.warnings:
        sys.stderr.write(f"warning {warning.describe()}\n")
    crypto = (f", {result.signatures_checked} signature(s) verified" if verifier
              else ", signatures matched to records but not verified cryptographically "
                   "(pass --cert-identity and --cert-oidc-issuer)" if result.signed else "")
    state = "intact" if result.ok else f"{len(result.problems)} problem(s) found"
    sys.stderr.write(f"{store.label}: {state}: {result.entries} entries, {result.changes} "
                     f"change record(s), {result.checkpoints} checkpoint(s), {result.signed} "
                     f"signed / {result.unsigned} unsigned record(s){crypto}; head "
                     f"{result.head}\n")
    return 0 if result.ok else 1


# -- report and export --------------------------------------------------------------------


def _period(args: argparse.Namespace) -> tuple[datetime | None, datetime | None]:
    return _date(args.since, "--since"), _date(args.until, "--until")


def _date(text: str | None, option: str) -> datetime | None:
    from changegate.errors import ChangegateError
    from changegate.evidence.canonical import parse_timestamp

    if text is None:
        return None
    try:
        value = parse_timestamp(text)
    except ValueError as exc:
        raise ChangegateError("BAD_INPUT", f"{option} {text!r} is not a date "
                              "(YYYY-MM-DD or an ISO 8601 time)") from exc
    return value.astimezone(timezone.utc)


def _report(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from changegate.errors import ChangegateError
    from changegate.evidence.report import build_report, change_entries, load_change
    from changegate.evidence.verify import verify_store

    store, where = open_for_reading(args, environ)
    verification = None if args.no_verify else verify_store(store)
    if args.all:
        if not args.out_dir:
            raise ChangegateError("BAD_INPUT", "--all writes one report per change: give "
                                  "--out-dir")
        since, until = _period(args)
        from changegate.evidence.canonical import parse_timestamp

        records = [e["record"]["sha256"] for e in change_entries(store)
                   if (since is None or parse_timestamp(e["time"]) >= since)
                   and (until is None or parse_timestamp(e["time"]) < until)]
    else:
        records = [args.record]
    written = 0
    for record in records:
        loaded = load_change(store, record)
        report = build_report(loaded, store_args=where, verification=verification)
        written += _write_report(report, args)
    sys.stderr.write(f"{written} report file(s) written\n" if written else "")
    if verification is not None and not verification.ok:
        sys.stderr.write(f"the ledger has {len(verification.problems)} problem(s); the "
                         "report shows them\n")
        return 1
    return 0


def _write_report(report: Any, args: argparse.Namespace) -> int:
    from changegate.evidence.render import render_html, render_markdown

    if args.out_dir:
        out = Path(args.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        stem = report.record_sha256[:16]
        (out / f"{stem}.html").write_text(render_html(report), encoding="utf-8")
        (out / f"{stem}.md").write_text(render_markdown(report), encoding="utf-8")
        return 2
    count = 0
    if args.html:
        Path(args.html).write_text(render_html(report), encoding="utf-8")
        count += 1
    if args.markdown:
        Path(args.markdown).write_text(render_markdown(report), encoding="utf-8")
        count += 1
    if not count:
        sys.stdout.write(render_markdown(report))
    return count


def _export(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from changegate.evidence import population

    store, _ = open_for_reading(args, environ)
    since, until = _period(args)
    data, meta = population.rows(store, since=since, until=until)
    text = population.to_csv(data) if args.format == "csv" else population.to_json(data, meta)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    sys.stderr.write(f"{meta['count']} change(s) from {meta['store']} (ledger size "
                     f"{meta['ledger_size']}, head {meta['ledger_head']})\n")
    return 0
