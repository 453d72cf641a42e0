"""Append 10,000 evidence records to a ledger, then verify the whole ledger: time and memory.

    .venv/bin/python benchmarks/bench_evidence.py [--records 10000] [--batch 5] [--keep DIR]

The records are appended the way `changegate check` appends them: in recording runs of
`--batch` records (four gate statements and a change record by default), each record serialised
as RFC 8785 JSON, written create-only and fsync'd, then one ledger append per run (under the
lock, with fsync) ending with a Merkle checkpoint statement. So 10,000 records make 2,000 runs
and 12,000 ledger entries (with the checkpoints), all unsigned (signing is Sigstore's network
round trip, not ours to measure).

Each phase runs in a fresh Python process, so "verify" is a cold start that reads and re-hashes
every ledger line and every record file, recomputes every checkpoint's Merkle root and checks
each change record's inputs, exactly as `changegate evidence verify` does. Peak memory is the
process's ru_maxrss, and the tracemalloc peak (Python allocations) of a separate run.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def statement(run: int, item: int) -> dict[str, Any]:
    """A realistic gate statement (~1 KB): the test-result form with a few findings."""
    from changegate.evidence import statements as st

    findings = [{"rule": f"RULE_{k}", "severity": "warning", "message": f"finding {k} of run "
                 f"{run}", "location": {"file": "requirements.txt", "line": k}}
                for k in range(3)]
    return st.statement(
        [{"name": f"commit:{run:040x}", "digest": {"sha256": f"{run:064x}"},
          "annotations": {"gitCommit": f"{run:040x}"}}],
        st.TEST_RESULT,
        {"result": "PASSED", "configuration": [{"uri": "git+https://example.test/r@x#p.yml",
                                                 "digest": {"sha256": "ab" * 32}}],
         "passedTests": [f"gate-{item}"], "warnedTests": [], "failedTests": [],
         "https://changegate.dev/attestation/gate-result/v1": {
             "gate": f"gate-{item}", "status": "pass", "summary": "ok", "findings": findings}})


def change_record(run: int, inputs: list[str]) -> dict[str, Any]:
    """A change record (VSA) naming the run's statements, as `record_check` writes it."""
    from changegate.evidence import statements as st

    return st.statement(
        [{"name": f"commit:{run:040x}", "digest": {"sha256": f"{run:064x}"}}], st.VSA,
        {"verifier": {"id": st.VERIFIER_ID}, "timeVerified": "2026-01-01T00:00:00Z",
         "resourceUri": f"commit:{run:040x}", "policy": {"uri": "p.yml"},
         "inputAttestations": [{"uri": f"records/{d}.json", "digest": {"sha256": d}}
                               for d in inputs],
         "verificationResult": "PASSED", "verifiedLevels": ["soc2:CC8.1"], "slsaVersion": "1.0"})


def phase_append(directory: Path, records: int, batch: int) -> dict[str, Any]:
    from changegate.evidence.canonical import timestamp, utc_now
    from changegate.evidence.ledger import Ledger
    from changegate.evidence.recorder import RecordWriter, _checkpoint_maker
    from changegate.evidence.stores.directory import DirectoryStore

    store = DirectoryStore(directory, label="evidence")
    writer = RecordWriter([store], None)
    ledger = Ledger(store)
    runs = records // batch
    run_times: list[float] = []
    start = time.perf_counter()
    for run in range(runs):
        began = time.perf_counter()
        time_text = timestamp(utc_now())
        bodies = []
        for item in range(batch - 1):
            written = writer.write(statement(run, item))
            bodies.append({"kind": "statement", "time": time_text, "status": "pass",
                           "record": written.descriptor()})
        written = writer.write(change_record(run, [b["record"]["sha256"] for b in bodies]))
        bodies.append({"kind": "change", "time": time_text, "record": written.descriptor(),
                       "verdict": "PASSED", "status": "pass", "gates": []})
        ledger.append(bodies, checkpoint=_checkpoint_maker(store, writer, time_text))
        run_times.append(time.perf_counter() - began)
    elapsed = time.perf_counter() - start
    first = sum(run_times[:100]) / min(100, len(run_times))
    last = sum(run_times[-100:]) / min(100, len(run_times))
    return {"phase": "append", "records": runs * batch, "runs": runs, "seconds": elapsed,
            "per_run_ms_first_100": first * 1000, "per_run_ms_last_100": last * 1000,
            "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def phase_verify(directory: Path, trace: bool) -> dict[str, Any]:
    from changegate.evidence.stores.directory import DirectoryStore
    from changegate.evidence.verify import verify_store

    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    report = verify_store(DirectoryStore(directory, label="evidence"))
    elapsed = time.perf_counter() - start
    result = {"phase": "verify", "ok": report.ok, "entries": report.entries,
              "records": report.records, "checkpoints": report.checkpoints,
              "seconds": elapsed,
              "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if trace:
        result["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    return result


def child(args: list[str]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          check=False, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    value: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=5)
    parser.add_argument("--keep", metavar="DIR", help="keep the ledger in DIR")
    parser.add_argument("--phase", choices=("append", "verify", "verify-trace"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "append":
        print(json.dumps(phase_append(Path(args.dir), args.records, args.batch)))
        return
    if args.phase:
        print(json.dumps(phase_verify(Path(args.dir), args.phase == "verify-trace")))
        return

    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-evidence-"))
    directory = base / "evidence"
    shutil.rmtree(directory, ignore_errors=True)
    try:
        append = child(["--phase", "append", "--dir", str(directory), "--records",
                        str(args.records), "--batch", str(args.batch)])
        verify = child(["--phase", "verify", "--dir", str(directory)])
        traced = child(["--phase", "verify-trace", "--dir", str(directory)])
        size = sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print(f"append: {append['records']:,} records in {append['runs']:,} runs: "
          f"{append['seconds']:.2f} s ({append['seconds'] / append['records'] * 1e3:.3f} ms per "
          f"record; per run {append['per_run_ms_first_100']:.2f} ms for the first 100 runs, "
          f"{append['per_run_ms_last_100']:.2f} ms for the last 100); peak RSS "
          f"{append['maxrss_mb']:.0f} MB")
    print(f"verify: {verify['entries']:,} entries, {verify['records']:,} records, "
          f"{verify['checkpoints']:,} checkpoints: {verify['seconds']:.2f} s "
          f"(ok={verify['ok']}); peak RSS {verify['maxrss_mb']:.0f} MB, tracemalloc peak "
          f"{traced['tracemalloc_peak_mb']:.1f} MB")
    print(f"store size on disk: {size / 2**20:.1f} MB")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    main()
