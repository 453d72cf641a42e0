"""Audit 500 real (name, version) pins against the whole PyPA advisory snapshot; compare pip-audit.

    .venv/bin/python benchmarks/bench_audit.py [--db PATH] [--runs N] [--no-pip-audit]

Each measurement is a fresh Python process (interpreter start, imports, database load
including hashing every record file, the audit), so "cold" really is cold:
- cold: empty index cache (every record parsed);
- warm: the index cache exists (every file still read and hashed; see database.py);
- peak memory: ru_maxrss of the process, and the tracemalloc peak of a separate run.

pip-audit has no offline OSV database; it queries OSV's HTTP API one package at a time. Its
`--osv-url` (pip_audit/_service/osv.py, `OsvService(osv_url=...)`) lets us point it at a tiny
OSV `/v1/query` server on 127.0.0.1, started here, that answers from the same snapshot. It runs
`pip-audit -r req.txt --no-deps --disable-pip -s osv` on a requirements file of the same pins.
The server answers from memory, so pip-audit's figure is a lower bound for it.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DB = REPO.parent / "shared" / "data" / "pypa-advisory-database"
PAIRS = 500
SEED = 20241010


# -- the sample ----------------------------------------------------------------------------
def make_pairs(db_path: Path) -> list[tuple[str, str]]:
    """500 real package names from the snapshot, about 40% pinned at an affected version."""
    from packaging.version import Version

    from changegate.gates.audit.database import load_database
    from changegate.gates.audit.evaluate import parse_version

    db = load_database(db_path, skip_bad_records=True)
    rng = random.Random(SEED)  # noqa: S311 - a reproducible sample, not a secret
    names = db.package_names()
    # records whose ranges cannot be evaluated would stop pip-audit (it parses every fix)
    bad = {p for s in db.skipped for p in s.packages}
    names = [n for n in names if n not in bad]
    rng.shuffle(names)
    pairs = []
    for name in names[:PAIRS]:
        listed: set[Version] = set()
        fixes: set[Version] = set()
        for record in db.records_for(name):
            for affected in record.affected_for(name):
                listed.update(v for v in map(parse_version, affected.versions) if v)
                fixes.update(parse_version(e.version) or Version("0")
                             for r in affected.ranges if r.type != "GIT"
                             for e in r.events if e.kind == "fixed")
        if listed and rng.random() < 0.4:
            version = rng.choice(sorted(listed))
        elif fixes:
            version = max(fixes)
        else:
            version = Version("1.0")
        pairs.append((name, str(version)))
    return pairs


# -- the measured child --------------------------------------------------------------------
def child(args: argparse.Namespace) -> None:
    """Runs in its own process: load + audit, print timings and memory as JSON."""
    import resource
    import tracemalloc

    if args.tracemalloc:
        tracemalloc.start()
    started = time.perf_counter()
    from changegate.gates.audit.database import load_database
    from changegate.gates.audit.engine import audit_packages

    imported = time.perf_counter()
    pairs = [tuple(p) for p in json.loads(Path(args.pairs).read_text())]
    cache = Path(args.cache) if args.cache else None
    db = load_database(args.db, cache_dir=cache, skip_bad_records=True)
    loaded = time.perf_counter()
    matches = audit_packages(db, pairs)  # type: ignore[arg-type]
    done = time.perf_counter()
    print(json.dumps({
        "import_s": imported - started, "load_s": loaded - imported, "audit_s": done - loaded,
        "total_s": done - started, "from_cache": db.from_cache, "matches": len(matches),
        "packages_affected": len({(m.package, m.version) for m in matches}),
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "tracemalloc_peak_mb": (tracemalloc.get_traced_memory()[1] / 2**20
                                if args.tracemalloc else None),
    }))


def run_child(db: Path, pairs_file: Path, cache: Path | None,
              traced: bool = False) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", "--db", str(db), "--pairs", str(pairs_file)]
    if cache is not None:
        cmd += ["--cache", str(cache)]
    if traced:
        cmd.append("--tracemalloc")
    started = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out)
    result["wall_s"] = time.perf_counter() - started
    return result


# -- a local OSV API for pip-audit ---------------------------------------------------------
def serve_osv(db_path: Path) -> tuple[ThreadingHTTPServer, str]:
    """POST /v1/query {"package": {"name", "ecosystem"}, "version"} -> {"vulns": [records]}."""
    from changegate.gates.audit.database import load_database
    from changegate.gates.audit.documents import load_document
    from changegate.gates.audit.engine import audit_packages

    db = load_database(db_path, skip_bad_records=True)
    documents: dict[str, Any] = {}

    def document(record_id: str) -> Any:
        if record_id not in documents:
            path = next(f for f in db_path.rglob(f"{record_id}.*"))
            documents[record_id] = load_document(path.read_bytes(), path.name)
        return documents[record_id]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            query = json.loads(self.rfile.read(length))
            name, version = query["package"]["name"], query["version"]
            # one OSV answer lists every matching record: no alias merging on the server side
            vulns = [document(r) for m in audit_packages(db, [(name, version)])
                     for r in m.records]
            body = json.dumps({"vulns": vulns} if vulns else {}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1/query"


def run_pip_audit(pairs: list[tuple[str, str]], url: str, work: Path) -> dict[str, Any]:
    exe = Path(sys.executable).with_name("pip-audit")
    if not exe.exists():
        return {"error": "pip-audit is not installed in this environment"}
    req = work / "req.txt"
    req.write_text("".join(f"{n}=={v}\n" for n, v in pairs))
    out = work / "pip-audit.json"
    cmd = [str(exe), "-r", str(req), "--no-deps", "--disable-pip", "-s", "osv",
           "--osv-url", url, "--cache-dir", str(work / "pip-audit-cache"), "-f", "json",
           "-o", str(out), "--progress-spinner", "off"]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if proc.returncode not in (0, 1) or not out.exists():
        return {"error": f"pip-audit exited {proc.returncode}: {proc.stderr.strip()[-500:]}"}
    report = json.loads(out.read_text())
    deps = report["dependencies"]
    return {"wall_s": wall, "vulns": sum(len(d.get("vulns", [])) for d in deps),
            "packages_affected": sum(1 for d in deps if d.get("vulns"))}


# -- main ----------------------------------------------------------------------------------
def median_of(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=DEFAULT_DB)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-pip-audit", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--pairs", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    parser.add_argument("--tracemalloc", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    work = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    try:
        pairs = make_pairs(args.db)
        pairs_file = work / "pairs.json"
        pairs_file.write_text(json.dumps(pairs))
        cache = work / "cache"
        cold = []
        for _ in range(args.runs):
            shutil.rmtree(cache, ignore_errors=True)
            cold.append(run_child(args.db, pairs_file, cache))
        warm = [run_child(args.db, pairs_file, cache) for _ in range(args.runs)]
        assert all(not r["from_cache"] for r in cold) and all(r["from_cache"] for r in warm)
        shutil.rmtree(cache, ignore_errors=True)
        cold_traced = run_child(args.db, pairs_file, cache, traced=True)
        warm_traced = run_child(args.db, pairs_file, cache, traced=True)

        print(f"changegate audit: {len(pairs)} pins x {args.db.name} "
              f"({cold[0]['matches']} matches in {cold[0]['packages_affected']} packages), "
              f"median of {args.runs} fresh processes")
        print(f"{'':6} {'process':>9} {'in-proc':>9} {'import':>8} {'load':>8} {'audit':>8} "
              f"{'maxrss':>9} {'tracemalloc':>12}")
        for label, runs, traced in (("cold", cold, cold_traced), ("warm", warm, warm_traced)):
            print(f"{label:6} {median_of(runs, 'wall_s'):8.3f}s {median_of(runs, 'total_s'):8.3f}s"
                  f" {median_of(runs, 'import_s'):7.3f}s {median_of(runs, 'load_s'):7.3f}s"
                  f" {median_of(runs, 'audit_s'):7.3f}s {median_of(runs, 'maxrss_mb'):7.1f}MB"
                  f" {traced['tracemalloc_peak_mb']:10.1f}MB")

        if args.no_pip_audit:
            return
        server, url = serve_osv(args.db)
        try:
            theirs = run_pip_audit(pairs, url, work)
        finally:
            server.shutdown()
        if "error" in theirs:
            print(f"pip-audit: not measured: {theirs['error']}")
            return
        ours = median_of(warm, "wall_s")
        print(f"pip-audit -r req.txt --no-deps --disable-pip -s osv --osv-url <local>: "
              f"{theirs['wall_s']:.3f}s, {theirs['vulns']} vulns in "
              f"{theirs['packages_affected']} packages (the local server answers with "
              "changegate's matches, unmerged, so the counts agree by construction)")
        print(f"ratio pip-audit / changegate (warm process): {theirs['wall_s'] / ours:.1f}x; "
              f"(cold process): {theirs['wall_s'] / median_of(cold, 'wall_s'):.1f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
