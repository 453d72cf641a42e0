"""`record_check`: turn one `changegate check` run into records, ledger entries and a checkpoint.

Order matters and is fixed: the store's configuration is read back first (so nothing is written
to a bucket that would not keep it), then one statement per gate, then the change record (VSA)
naming all of them by digest, then ledger entries for all, then a checkpoint. Records are written
before the ledger entries that point at them, so a crash leaves at worst an unledgered record
(reported as a warning), never a ledger entry pointing at nothing.

The evidence directory always receives everything (it is the CI artifact: transport); with an
S3 store configured, the bucket receives the same records and keeps its own ledger (the archive).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from changegate.errors import ChangegateError
from changegate.evidence import controls as ctl
from changegate.evidence import statements as st
from changegate.evidence.canonical import canonical, sha256_hex, timestamp, utc_now
from changegate.evidence.ledger import CheckpointMaker, Ledger
from changegate.evidence.predicates import GateContext, gate_statement
from changegate.evidence.settings import EvidenceSettings
from changegate.evidence.signing import Signature, Signer, sign_record
from changegate.evidence.stores import Store, bundle_key, open_store, record_key
from changegate.evidence.stores.directory import DirectoryStore
from changegate.evidence.vsa import InputRecord, build_change_record, change_facts, verdict

if TYPE_CHECKING:
    from changegate.change import Change
    from changegate.policy.model import Policy
    from changegate.result import GateResult

NO_SIGNER = "no signing identity was available to this run"


@dataclass(frozen=True)
class Written:
    """A record as stored: its digest, where it is, and how it is signed."""

    sha256: str
    predicate_type: str
    signature: Signature

    def descriptor(self) -> dict[str, Any]:
        signature: dict[str, Any]
        if self.signature.bundle is not None:
            signature = {"status": "signed", "bundle": bundle_key(self.sha256),
                         "bundle_sha256": sha256_hex(self.signature.bundle.encode("utf-8")),
                         "identity": self.signature.identity,
                         "issuer": self.signature.issuer}
        else:
            signature = {"status": "unsigned", "reason": self.signature.unsigned_reason}
        return {"sha256": self.sha256, "key": record_key(self.sha256),
                "predicateType": self.predicate_type, "signature": signature}


class RecordWriter:
    """Signs each record once and writes it (and its bundle) to every store."""

    def __init__(self, stores: Sequence[Store], signer: Signer | None) -> None:
        self.stores = list(stores)
        self.signer = signer

    def write(self, document: Mapping[str, Any], stores: Sequence[Store] | None = None) -> Written:
        data = canonical(dict(document))
        digest = sha256_hex(data)
        signature = sign_record(data, self.signer, reason=NO_SIGNER)
        for store in stores or self.stores:
            store.put(record_key(digest), data)
            if signature.bundle is not None:
                store.put(bundle_key(digest), signature.bundle.encode("utf-8"))
        return Written(digest, str(document["predicateType"]), signature)


def policy_descriptor(policy: Policy | None, change: Change) -> dict[str, Any]:
    """The VSA `policy` ResourceDescriptor: where the policy was read, and its digest."""
    if policy is None:
        return {"uri": "changegate:built-in-defaults"}
    repo = st.repository_uri(change)
    revision = policy.revision
    if repo and revision:
        uri = f"{repo}@{revision}#{policy.source}"
    elif revision:
        uri = f"git:{revision}#{policy.source}"
    else:
        uri = policy.source
    return {"uri": uri, "digest": {"sha256": policy.sha256}}


def record_check(results: list[GateResult], *, change: Change, policy: Policy | None,
                 environment: str | None, settings: Mapping[str, Any],
                 environ: Mapping[str, str], workdir: Path, signer: Signer | None = None,
                 now: datetime | None = None) -> dict[str, Any]:
    """Record every gate result and the change record; return what `check --json` reports."""
    from changegate.result import combined_status

    cfg = EvidenceSettings.from_mapping(settings)
    directory = Path(cfg.dir) if Path(cfg.dir).is_absolute() else Path(workdir) / cfg.dir
    local = DirectoryStore(directory, label=_relative(directory, workdir))
    stores: list[Store] = [local]
    if cfg.store.type == "s3":
        stores.append(open_store(cfg.store, directory=directory, environ=environ))
    archive = stores[-1]
    catalog = ctl.load_catalog(cfg.controls, cfg.extra_controls)
    store_facts = [store.describe() for store in stores]  # S3: lock read back, or refusal

    time = timestamp(now or utc_now())
    commit = st.commit_ref(change, workdir)
    policy_ref = policy_descriptor(policy, change)
    writer = RecordWriter(stores, signer)
    ctx = GateContext(change=change, commit=commit, workdir=Path(workdir), time=time,
                      environment=environment, policy=policy_ref)

    store_statement = st.statement(
        [commit.subject(), {"name": archive.label,
                            "digest": {"sha256": sha256_hex(canonical(store_facts))}}],
        st.EVIDENCE_STORE, {"stores": store_facts, "checkedAt": time})
    written_store = writer.write(store_statement)
    inputs = [InputRecord(None, written_store.sha256, archive.uri(record_key(
        written_store.sha256)), st.EVIDENCE_STORE)]
    bodies: list[dict[str, Any]] = [{
        "kind": "store", "time": time, "commit": change.head, "store": archive.label,
        "record": written_store.descriptor()}]
    written_all = [written_store]
    for result in results:
        written = writer.write(gate_statement(result, ctx))
        written_all.append(written)
        inputs.append(InputRecord(result.gate, written.sha256,
                                  archive.uri(record_key(written.sha256)), written.predicate_type))
        bodies.append({"kind": "statement", "time": time, "commit": change.head,
                       "gate": result.gate, "status": result.status.value,
                       "record": written.descriptor()})

    status = combined_status([r.status for r in results]).value if results else "error"
    gate_statuses = {r.gate: r.status.value for r in results}
    # The record itself exists (that is what the pseudo-gate evidences); the verdict on the
    # change is judged by the real gates, which every control also lists.
    statuses = {**gate_statuses, ctl.CHANGE_RECORD: "pass"}
    control_results = ctl.evaluate(catalog, statuses, retention_years=archive.retention_years,
                                   environment=environment)
    record = build_change_record(
        change=change, commit=commit, environment=environment, time=time, policy=policy_ref,
        status=status, results=results, inputs=inputs, catalog=catalog,
        controls=control_results,
        store={"type": archive.kind, "uri": archive.label,
               "retention_years": archive.retention_years})
    written_change = writer.write(record)
    written_all.append(written_change)
    counts = {s: sum(1 for c in control_results if c.status == s) for s in ctl.STATUSES}
    bodies.append({
        "kind": "change", "time": time, "commit": change.head,
        "change": change_facts(change, environment), "status": status,
        "verdict": verdict(status), "policy": policy_ref,
        # A list, not a mapping: canonical JSON sorts keys, and the run order is a fact.
        "gates": [{"gate": r.gate, "status": r.status.value} for r in results],
        "controls": counts, "record": written_change.descriptor()})

    appended = {}
    for store in stores:
        appended[store.label] = Ledger(store).append(
            bodies, checkpoint=_checkpoint_maker(store, writer, time))
    local_entries = appended[local.label]
    signed = all(w.signature.signed for w in written_all)
    reasons = sorted({w.signature.unsigned_reason for w in written_all
                      if w.signature.unsigned_reason})
    outcome = {
        "path": _relative(directory, workdir),
        "record_sha256": written_change.sha256,
        "record_path": _relative(directory / record_key(written_change.sha256), workdir),
        "record_uri": archive.uri(record_key(written_change.sha256)),
        "signed": signed,
        "unsigned_reason": "; ".join(reasons) or None,
        "verdict": verdict(status),
        "ledger": {"index": local_entries[-2]["index"], "head": local_entries[-1]["hash"],
                   "size": local_entries[-1]["index"] + 1},
        "store": {"type": archive.kind, "uri": archive.label,
                  "retention_years": archive.retention_years},
        "statements": [{"gate": b.get("gate", b["kind"]), "sha256": b["record"]["sha256"],
                        "predicateType": b["record"]["predicateType"]} for b in bodies],
        "controls": counts,
        "verify_command": verify_command(directory, workdir, archive, written_change.sha256),
    }
    if cfg.require_signature and not signed:
        raise ChangegateError(
            "EVIDENCE_UNSIGNED",
            f"the policy requires signed evidence, but records were kept unsigned "
            f"({outcome['unsigned_reason']})",
            fix="give the job a Sigstore identity (GitHub: `permissions: id-token: write`; "
                "GitLab: an `id_tokens:` entry with audience sigstore)")
    return outcome


def _checkpoint_maker(store: Store, writer: RecordWriter, time: str) -> CheckpointMaker:
    """A checkpoint statement over the ledger so far, signed when possible, in `store` only."""

    def make(tree_size: int, root: str, head: str) -> dict[str, Any]:
        document = st.statement(
            [{"name": f"ledger:{store.label}", "digest": {"sha256": root}}],
            st.LEDGER_CHECKPOINT,
            {"ledger": store.label, "treeSize": tree_size, "rootHash": root, "head": head,
             "hashAlgorithm": "sha256", "tree": "RFC 9162", "time": time})
        written = writer.write(document, stores=[store])
        return {"kind": "checkpoint", "time": time,
                "checkpoint": {"tree_size": tree_size, "root": root},
                "record": written.descriptor()}

    return make


def verify_command(directory: Path, workdir: Path, archive: Store, sha256: str) -> str:
    """The one command an auditor runs to verify the record and the ledger holding it."""
    if archive.kind == "s3":
        endpoint = getattr(getattr(archive, "settings", None), "endpoint_url", None)
        where = f"--store {archive.label}" + (f" --endpoint-url {endpoint}" if endpoint else "")
    else:
        where = f"--dir {_relative(directory, workdir)}"
    return f"changegate evidence verify {where} --record {sha256}"


def _relative(path: Path, workdir: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(workdir).resolve()).as_posix()
    except ValueError:
        return str(path)
