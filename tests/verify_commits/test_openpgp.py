"""OpenPGP verification against keys, signatures and commits made by the real gpg and git.

Each scenario is built the way it happens to users (a key that expired, a key revoked as
compromised after it signed, a subkey retired, a signature back-dated) and checked for the exact
status and reason; the parity test compares every verdict with git's own `%G?`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pysequoia
import pytest
from gpg_fixtures import (
    REASON_COMPROMISED,
    REASON_NONE,
    REASON_RETIRED,
    REASON_SUPERSEDED,
    GnuPG,
    Repo,
    days_ago,
    split_commit,
    stop_agents,
)
from pysequoia.packet import PacketPile

from changegate.errors import InputError
from changegate.gates.verify_commits.openpgp import (
    KeyValidity,
    OpenPgpKeyring,
    OpenPgpVerifier,
    _digest_prefix_matches,
)
from changegate.gates.verify_commits.verdict import (
    CommitStatus,
    Reason,
    SignatureFormat,
    SignatureVerdict,
    SignatureVerifier,
)

PAYLOAD = (b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
           b"author Dev <dev@example.com> 1700000000 +0000\n"
           b"committer Dev <dev@example.com> 1700000000 +0000\n\nchange\n")
T0 = days_ago(10)  # when the scenario keys were made
LONG_AGO = T0 - timedelta(days=300)  # a committer date no signature here predates


@pytest.fixture(autouse=True, scope="module")
def _stop_gpg_agents() -> Iterator[None]:
    yield
    stop_agents()


@dataclass
class World:
    """One GnuPG home holding every scenario's key, and the signatures made with them."""

    gpg: GnuPG
    keys: dict[str, str] = field(default_factory=dict)
    subkeys: dict[str, str] = field(default_factory=dict)
    sigs: dict[str, bytes] = field(default_factory=dict)

    def keyring(self, *names: str) -> OpenPgpKeyring:
        return OpenPgpKeyring.from_bytes(self.gpg.export(*(self.keys[n] for n in names)))

    def verify(self, sig: str, *names: str, payload: bytes = PAYLOAD,
               signed_at: datetime = LONG_AGO,
               validity: KeyValidity = "now") -> SignatureVerdict:
        verifier = OpenPgpVerifier(self.keyring(*(names or (sig,))), key_validity=validity)
        return verifier.verify(payload, self.sigs[sig], signed_at)


def _build(gpg: GnuPG) -> World:
    w = World(gpg)
    k, s, sign = w.keys, w.sigs, gpg.sign
    k["alice"] = gpg.gen_key("Alice Example <Alice@Example.COM>", at=T0)
    gpg.add_uid(k["alice"], "alice <alice@work.example>", at=T0)
    gpg.add_uid(k["alice"], "Old Alice <alice@old.example>", at=T0)
    gpg.revoke_uid(k["alice"], "Old Alice <alice@old.example>", at=T0 + timedelta(minutes=1))
    s["alice"] = sign(PAYLOAD, k["alice"])
    s["alice-text"] = sign(PAYLOAD, k["alice"], extra=("--textmode",))
    s["alice-sha1"] = sign(PAYLOAD, k["alice"], extra=("--digest-algo", "SHA1"))
    s["alice-future"] = sign(PAYLOAD, k["alice"], at=datetime.now(timezone.utc)
                             + timedelta(days=40))
    s["alice-old"] = sign(PAYLOAD, k["alice"], at=T0 + timedelta(hours=1))
    s["alice-before-key"] = sign(PAYLOAD, k["alice"], at=T0 - timedelta(days=1),
                                 extra=("--ignore-time-conflict",))
    s["alice-sig-expired"] = sign(PAYLOAD, k["alice"], at=T0 + timedelta(hours=1),
                                  extra=("--default-sig-expire", "1d"))
    k["stranger"] = gpg.gen_key("Stranger <stranger@example.com>", at=T0)
    s["stranger"] = sign(PAYLOAD, k["stranger"])
    k["rsa"] = gpg.gen_key("Rob RSA <rob@example.com>", algo="rsa3072", at=T0)
    s["rsa"] = sign(PAYLOAD, k["rsa"])
    k["weak"] = gpg.gen_key("Walt Weak <walt@example.com>", algo="rsa1024", at=T0)
    s["weak"] = sign(PAYLOAD, k["weak"])
    _expiry_keys(w)
    _revoked_keys(w)
    _subkeys(w)
    return w


def _expiry_keys(w: World) -> None:
    gpg = w.gpg
    # Expires one day after creation, signed while valid: still valid today.
    w.keys["expired-later"] = gpg.gen_key("Eve Later <eve@example.com>", expire="1d", at=T0)
    w.sigs["expired-later"] = gpg.sign(PAYLOAD, w.keys["expired-later"],
                                       at=T0 + timedelta(hours=1))
    # Signed now, but a self-signature made on day 0 had set a one-day expiry: expired then.
    w.keys["expired"] = gpg.gen_key("Ed Expired <ed@example.com>", at=T0)
    w.sigs["expired"] = gpg.sign(PAYLOAD, w.keys["expired"])
    gpg.set_expire(w.keys["expired"], "1d", at=T0 + timedelta(minutes=1))


def _revoked_keys(w: World) -> None:
    gpg = w.gpg
    for name, reason in (("compromised", REASON_COMPROMISED), ("no-reason", REASON_NONE),
                         ("superseded", REASON_SUPERSEDED)):
        w.keys[name] = gpg.gen_key(f"{name} <{name}@example.com>", at=T0)
        w.sigs[name] = gpg.sign(PAYLOAD, w.keys[name], at=T0 + timedelta(hours=1))
        gpg.import_keys(gpg.revocation_cert(w.keys[name], reason))  # revoked after signing
    # Retired (soft) on day 0, and yet used to sign today.
    w.keys["retired"] = gpg.gen_key("Rita Retired <rita@example.com>", at=T0)
    revocation = gpg.revocation_cert(w.keys["retired"], REASON_RETIRED,
                                     at=T0 + timedelta(hours=1))
    w.sigs["retired"] = gpg.sign(PAYLOAD, w.keys["retired"])
    gpg.import_keys(revocation)


def _subkeys(w: World) -> None:
    gpg = w.gpg
    for name in ("sub", "sub-expired", "sub-compromised", "sub-superseded"):
        w.keys[name] = gpg.gen_key(f"{name} <{name}@example.com>", usage="cert", at=T0)
        w.subkeys[name] = gpg.add_subkey(w.keys[name], at=T0)
    w.sigs["sub"] = gpg.sign(PAYLOAD, w.keys["sub"])
    w.sigs["sub-expired"] = gpg.sign(PAYLOAD, w.keys["sub-expired"])
    gpg.set_expire(w.keys["sub-expired"], "1d", subkey=w.subkeys["sub-expired"],
                   at=T0 + timedelta(minutes=1))
    for name, reason in (("sub-compromised", REASON_COMPROMISED),
                         ("sub-superseded", REASON_SUPERSEDED)):
        w.sigs[name] = gpg.sign(PAYLOAD, w.keys[name], at=T0 + timedelta(hours=1))
        gpg.revoke_subkey(w.keys[name], 1, reason)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return _build(GnuPG(tmp_path_factory.mktemp("gnupg")))


def _expect(verdict: SignatureVerdict, status: CommitStatus, reason: Reason) -> None:
    assert (verdict.status, verdict.reason) == (status, reason), verdict.detail
    assert verdict.format is SignatureFormat.OPENPGP


# ---------------------------------------------------------------------------------------------
# Verdicts


def test_good_signature_is_verified_with_identities(world: World) -> None:
    verdict = world.verify("alice")
    _expect(verdict, CommitStatus.VERIFIED, Reason.OK)
    assert verdict.fingerprint == world.keys["alice"].upper()
    assert verdict.identities == ("alice@example.com", "alice@work.example")  # not the revoked
    assert verdict.signer == "alice@example.com"
    assert world.keys["alice"] in verdict.detail


def test_verifier_satisfies_the_protocol(world: World) -> None:
    verifier: SignatureVerifier = OpenPgpVerifier(world.keyring("alice"))
    assert verifier.verify(PAYLOAD, world.sigs["alice"], LONG_AGO).status is CommitStatus.VERIFIED


def test_tampered_payload_is_a_bad_signature(world: World) -> None:
    _expect(world.verify("alice", payload=PAYLOAD + b"x"), CommitStatus.INVALID,
            Reason.BAD_SIGNATURE)
    _expect(world.verify("alice-text", "alice", payload=PAYLOAD.replace(b"change", b"chance")),
            CommitStatus.INVALID, Reason.BAD_SIGNATURE)


def test_text_mode_and_rsa_signatures_verify(world: World) -> None:
    _expect(world.verify("alice-text", "alice"), CommitStatus.VERIFIED, Reason.OK)
    _expect(world.verify("rsa"), CommitStatus.VERIFIED, Reason.OK)


def test_key_not_in_keyring_is_unknown(world: World) -> None:
    verdict = world.verify("stranger", "alice", "rsa")
    _expect(verdict, CommitStatus.UNTRUSTED, Reason.UNKNOWN_KEY)
    assert world.keys["stranger"] in verdict.detail
    assert verdict.fingerprint is None and verdict.identities == ()


def test_key_expired_before_signing_is_expired(world: World) -> None:
    verdict = world.verify("expired")
    _expect(verdict, CommitStatus.UNTRUSTED, Reason.KEY_EXPIRED)
    assert verdict.fingerprint == world.keys["expired"].upper()


def test_key_expired_after_signing_fails_by_default_like_git(world: World) -> None:
    """By default the key must still be valid now, as git/gpg judge it."""
    verdict = world.verify("expired-later")
    _expect(verdict, CommitStatus.UNTRUSTED, Reason.KEY_EXPIRED)
    assert "not valid now" in verdict.detail


@pytest.mark.parametrize("name", ["compromised", "no-reason"])
def test_hard_revocation_invalidates_older_signatures(world: World, name: str) -> None:
    verdict = world.verify(name)
    _expect(verdict, CommitStatus.UNTRUSTED, Reason.KEY_REVOKED)
    assert "hard revocation" in verdict.detail


def test_soft_revocation_keeps_older_signatures(world: World) -> None:
    _expect(world.verify("superseded", validity="signing-time"), CommitStatus.VERIFIED,
            Reason.OK)
    _expect(world.verify("superseded"), CommitStatus.UNTRUSTED, Reason.KEY_REVOKED)


def test_soft_revocation_refuses_later_signatures(world: World) -> None:
    verdict = world.verify("retired")
    _expect(verdict, CommitStatus.UNTRUSTED, Reason.KEY_REVOKED)
    assert "key retired" in verdict.detail


def test_signing_subkey_reports_primary_fingerprint(world: World) -> None:
    verdict = world.verify("sub")
    _expect(verdict, CommitStatus.VERIFIED, Reason.OK)
    assert verdict.fingerprint == world.keys["sub"].upper()
    assert f"signing subkey {world.subkeys['sub'].upper()}" in verdict.detail


def test_expired_subkey(world: World) -> None:
    verdict = world.verify("sub-expired")
    _expect(verdict, CommitStatus.UNTRUSTED, Reason.KEY_EXPIRED)
    assert world.subkeys["sub-expired"].upper() in verdict.detail


def test_compromised_subkey(world: World) -> None:
    _expect(world.verify("sub-compromised"), CommitStatus.UNTRUSTED, Reason.KEY_REVOKED)


def test_superseded_subkey_keeps_older_signatures(world: World) -> None:
    _expect(world.verify("sub-superseded", validity="signing-time"), CommitStatus.VERIFIED,
            Reason.OK)
    _expect(world.verify("sub-superseded"), CommitStatus.UNTRUSTED, Reason.KEY_REVOKED)


def test_weak_algorithms_are_refused(world: World) -> None:
    _expect(world.verify("alice-sha1", "alice"), CommitStatus.UNTRUSTED,
            Reason.UNSUPPORTED_ALGORITHM)
    verdict = world.verify("weak")
    _expect(verdict, CommitStatus.UNTRUSTED, Reason.UNSUPPORTED_ALGORITHM)
    assert "1024-bit" in verdict.detail


# ---------------------------------------------------------------------------------------------
# Time


def test_signature_from_the_future(world: World) -> None:
    _expect(world.verify("alice-future", "alice"), CommitStatus.UNTRUSTED,
            Reason.OUTSIDE_VALIDITY)


def test_signature_predating_its_commit_is_refused(world: World) -> None:
    """Back-dating a signature is how an expired key would be made to look valid."""
    verdict = world.verify("alice-old", "alice", signed_at=datetime.now(timezone.utc))
    _expect(verdict, CommitStatus.UNTRUSTED, Reason.OUTSIDE_VALIDITY)
    assert "back-dated" in verdict.detail


def test_signature_long_after_its_commit_is_judged_at_signing_time(world: World) -> None:
    verdict = world.verify("alice", signed_at=datetime.now(timezone.utc) - timedelta(days=400))
    _expect(verdict, CommitStatus.VERIFIED, Reason.OK)
    assert "days after the committer date" in verdict.detail


def test_naive_signed_at_is_utc(world: World) -> None:
    naive = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(hours=1)
    _expect(world.verify("alice", signed_at=naive), CommitStatus.VERIFIED, Reason.OK)


def test_signature_before_key_creation(world: World) -> None:
    _expect(world.verify("alice-before-key", "alice", signed_at=T0 - timedelta(days=2)),
            CommitStatus.UNTRUSTED, Reason.OUTSIDE_VALIDITY)


def test_expired_signature(world: World) -> None:
    verdict = world.verify("alice-sig-expired", "alice")
    _expect(verdict, CommitStatus.UNTRUSTED, Reason.OUTSIDE_VALIDITY)
    assert "expired" in verdict.detail


# ---------------------------------------------------------------------------------------------
# Malformed input


@pytest.mark.parametrize("signature", [
    b"",
    b"-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n",
    b"-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n",
    b"not armor at all",
])
def test_garbage_is_malformed(world: World, signature: bytes) -> None:
    verdict = OpenPgpVerifier(world.keyring("alice")).verify(PAYLOAD, signature, LONG_AGO)
    _expect(verdict, CommitStatus.INVALID, Reason.MALFORMED)
    assert "Stack backtrace" not in verdict.detail


def test_a_key_instead_of_a_signature_is_malformed(world: World) -> None:
    verdict = OpenPgpVerifier(world.keyring("alice")).verify(
        PAYLOAD, world.gpg.export(world.keys["alice"]), LONG_AGO)
    _expect(verdict, CommitStatus.INVALID, Reason.MALFORMED)


def test_two_signature_packets(world: World) -> None:
    """A second signature must not ride along unnoticed (Sequoia's Sig would take the first)."""
    both = (bytes(pysequoia.Sig.from_bytes(world.sigs["alice"]))
            + bytes(pysequoia.Sig.from_bytes(world.sigs["stranger"])))
    armored = pysequoia.armor(both, pysequoia.ArmorKind.Signature).encode()
    verdict = OpenPgpVerifier(world.keyring("alice", "stranger")).verify(PAYLOAD, armored,
                                                                        LONG_AGO)
    _expect(verdict, CommitStatus.INVALID, Reason.MULTIPLE_SIGNATURES)


def test_two_armored_blocks(world: World) -> None:
    verdict = OpenPgpVerifier(world.keyring("alice")).verify(
        PAYLOAD, world.sigs["alice"] + world.sigs["stranger"], LONG_AGO)
    _expect(verdict, CommitStatus.INVALID, Reason.MULTIPLE_SIGNATURES)


# ---------------------------------------------------------------------------------------------
# Non-canonical MPIs (what GitHub's signer writes)


def _inflate_mpi(armored: bytes) -> bytes:
    """Re-encode an RSA signature's MPI with one extra leading zero byte and 8 more bits.

    The integer is unchanged; gpg accepts this, Sequoia refuses to parse it.
    """
    body = next(iter(PacketPile.from_bytes(armored))).body
    hashed = int.from_bytes(body[4:6], "big")
    unhashed = int.from_bytes(body[6 + hashed:8 + hashed], "big")
    start = 8 + hashed + unhashed + 2
    bits = int.from_bytes(body[start:start + 2], "big")
    new_body = body[:start] + ((bits + 7) // 8 * 8 + 8).to_bytes(2, "big") + b"\0" \
        + body[start + 2:]
    size = len(new_body) - 192
    packet = bytes([0xC2, (size >> 8) + 192, size & 0xFF]) + new_body
    return pysequoia.armor(packet, pysequoia.ArmorKind.Signature).encode()


def test_non_canonical_mpi_is_normalized(world: World) -> None:
    inflated = _inflate_mpi(world.sigs["rsa"])
    with pytest.raises(RuntimeError):
        pysequoia.Sig.from_bytes(inflated)  # the reason normalization exists
    verifier = OpenPgpVerifier(world.keyring("rsa"))
    verdict = verifier.verify(PAYLOAD, inflated, LONG_AGO)
    _expect(verdict, CommitStatus.VERIFIED, Reason.OK)
    assert "normalized" in verdict.detail
    _expect(verifier.verify(PAYLOAD + b"x", inflated, LONG_AGO), CommitStatus.INVALID,
            Reason.BAD_SIGNATURE)


@pytest.mark.parametrize("name", ["alice", "alice-text", "alice-sha1", "rsa", "sub"])
def test_digest_prefix_tells_a_changed_payload(world: World, name: str) -> None:
    """The diagnosis behind BAD_SIGNATURE: the 16-bit hash prefix every signature stores."""
    body = next(iter(PacketPile.from_bytes(world.sigs[name]))).body
    assert _digest_prefix_matches(body, PAYLOAD)
    assert not _digest_prefix_matches(body, PAYLOAD.replace(b"change", b"chance"))


def test_v6_signatures(world: World) -> None:
    """RFC 9580 keys and salted v6 signatures (made in-process: gpg 2.2 cannot)."""
    tsk = pysequoia.Tsk.generate("Vera Six <vera@example.com>", profile=pysequoia.Profile.RFC9580)
    signature = pysequoia.sign(tsk.signer(), PAYLOAD, mode=pysequoia.SignatureMode.DETACHED)
    body = next(iter(PacketPile.from_bytes(signature))).body
    assert body[0] == 6 and _digest_prefix_matches(body, PAYLOAD)
    assert not _digest_prefix_matches(body, PAYLOAD + b"x")
    verifier = OpenPgpVerifier(OpenPgpKeyring.from_bytes(bytes(tsk.extract_certificate())))
    _expect(verifier.verify(PAYLOAD, signature, LONG_AGO), CommitStatus.VERIFIED, Reason.OK)
    _expect(verifier.verify(PAYLOAD + b"x", signature, LONG_AGO), CommitStatus.INVALID,
            Reason.BAD_SIGNATURE)


# ---------------------------------------------------------------------------------------------
# Keyring loading


def test_keyring_directory_with_armored_binary_and_multi_cert_files(world: World,
                                                                     tmp_path: Path) -> None:
    keys = world.keys
    (tmp_path / "alice.asc").write_bytes(world.gpg.export(keys["alice"]))
    (tmp_path / "rsa.gpg").write_bytes(world.gpg.export(keys["rsa"], armor=False))
    (tmp_path / "team.pgp").write_bytes(world.gpg.export(keys["sub"], keys["superseded"]))
    (tmp_path / "README.md").write_text("not a key")
    keyring = OpenPgpKeyring.from_path(tmp_path)
    assert set(keyring.fingerprints) == {keys[n].upper()
                                         for n in ("alice", "rsa", "sub", "superseded")}
    assert OpenPgpVerifier(keyring).verify(PAYLOAD, world.sigs["sub"],
                                           LONG_AGO).status is CommitStatus.VERIFIED


def test_single_keyring_file(world: World, tmp_path: Path) -> None:
    file = tmp_path / "trusted.kbx.asc"
    file.write_bytes(world.gpg.export(world.keys["alice"], world.keys["rsa"]))
    assert len(OpenPgpKeyring.from_path(file)) == 2


def test_same_certificate_in_two_files_is_merged(world: World, tmp_path: Path) -> None:
    """An updated copy carrying a revocation must not be shadowed by the older copy."""
    gpg = GnuPG(tmp_path / "home")
    fpr = gpg.gen_key("Mo Merge <mo@example.com>", at=T0)
    signature = gpg.sign(PAYLOAD, fpr)
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "a-old.asc").write_bytes(gpg.export(fpr))
    gpg.import_keys(gpg.revocation_cert(fpr, REASON_COMPROMISED))
    (tmp_path / "keys" / "b-new.asc").write_bytes(gpg.export(fpr))
    keyring = OpenPgpKeyring.from_path(tmp_path / "keys")
    assert len(keyring) == 1
    verdict = OpenPgpVerifier(keyring).verify(PAYLOAD, signature, LONG_AGO)
    _expect(verdict, CommitStatus.UNTRUSTED, Reason.KEY_REVOKED)


@pytest.mark.parametrize("content", [b"garbage\n", b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n"
                                     b"AAAA\n-----END PGP PUBLIC KEY BLOCK-----\n", b""])
def test_malformed_key_file_names_the_file(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "bad.asc").write_bytes(content)
    with pytest.raises(InputError) as caught:
        OpenPgpKeyring.from_path(tmp_path)
    assert caught.value.rule == "OPENPGP_KEYS_INVALID"
    assert caught.value.location.file == str(tmp_path / "bad.asc")
    assert "Stack backtrace" not in caught.value.message


def test_signature_file_is_not_a_key(world: World, tmp_path: Path) -> None:
    (tmp_path / "sig.asc").write_bytes(world.sigs["alice"])
    with pytest.raises(InputError, match=r"sig\.asc"):
        OpenPgpKeyring.from_path(tmp_path)


def test_secret_key_is_refused(world: World, tmp_path: Path) -> None:
    secret = world.gpg.run("--armor", "--batch", "--pinentry-mode", "loopback",
                           "--passphrase", "", "--export-secret-keys",
                           world.keys["alice"]).stdout
    (tmp_path / "oops.asc").write_bytes(secret)
    with pytest.raises(InputError, match="secret key material") as caught:
        OpenPgpKeyring.from_path(tmp_path)
    assert caught.value.rule == "OPENPGP_KEYS_INVALID"


def test_empty_directory_and_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no OpenPGP key files"):
        OpenPgpKeyring.from_path(tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        OpenPgpKeyring.from_path(tmp_path / "nope")


def test_identities_from_unusual_user_ids() -> None:
    tsk = pysequoia.Tsk.generate(user_ids=["Bare@Example.com", "Name Only",
                                           "Spacey <spacey@example.com> "])
    keyring = OpenPgpKeyring.from_bytes(bytes(tsk.extract_certificate()))
    cert = keyring.get(keyring.fingerprints[0])
    assert cert is not None
    assert set(cert.identities) == {"bare@example.com", "spacey@example.com"}


def test_weak_key_loads_but_vouches_for_nobody(world: World) -> None:
    keyring = world.keyring("weak")
    cert = keyring.get(world.keys["weak"])
    assert cert is not None and cert.identities == ()


# ---------------------------------------------------------------------------------------------
# Real commits, and parity with git's own verdict


def _verify_home(path: Path, signer: GnuPG, fprs: list[str]) -> GnuPG:
    """A GnuPG home holding only the trusted public keys, ultimately trusted (git says G)."""
    home = GnuPG(path)
    home.import_keys(signer.export(*fprs))
    home.trust_ultimately(*fprs)
    return home


def test_commit_parity_with_git(tmp_path: Path) -> None:
    """Verified iff git says G, over commits signed by the real git + gpg."""
    gpg = GnuPG(tmp_path / "signer")
    repo = Repo(tmp_path / "repo", gpg)
    key = {name: gpg.gen_key(f"{name} <{name}@example.com>", at=T0)
           for name in ("good", "stranger", "expired", "compromised", "retired")}
    key["rsa"] = gpg.gen_key("rsa <rsa@example.com>", algo="rsa2048", at=T0)
    for name in ("sub", "sub-expired"):
        key[name] = gpg.gen_key(f"{name} <{name}@example.com>", usage="cert", at=T0)
    subkey = {name: gpg.add_subkey(key[name], at=T0) for name in ("sub", "sub-expired")}
    retirement = gpg.revocation_cert(key["retired"], REASON_RETIRED, at=T0 + timedelta(hours=1))
    made = {name: repo.commit(name, key[name]) for name in
            ("good", "rsa", "sub", "stranger", "expired", "retired", "sub-expired")}
    made["compromised"] = repo.commit("compromised", key["compromised"],
                                      at=T0 + timedelta(hours=2))
    made["unsigned"] = repo.commit("unsigned", None)
    made["tampered"] = repo.tamper(made["good"], "refs/heads/tampered")
    # What happened to the keys after (or, back-dated, before) they signed:
    gpg.set_expire(key["expired"], "1d", at=T0 + timedelta(minutes=1))
    gpg.set_expire(key["sub-expired"], "1d", subkey=subkey["sub-expired"],
                   at=T0 + timedelta(minutes=1))
    gpg.import_keys(gpg.revocation_cert(key["compromised"], REASON_COMPROMISED))
    gpg.import_keys(retirement)

    trusted = [fpr for name, fpr in key.items() if name != "stranger"]
    home = _verify_home(tmp_path / "verify-home", gpg, trusted)
    letters = repo.status_letters(home.home)
    verifier = OpenPgpVerifier(OpenPgpKeyring.from_bytes(home.export()))
    verified = set()
    for name, sha in made.items():
        payload, signature, committed = split_commit(repo.raw_commit(sha))
        ours = signature is not None and \
            verifier.verify(payload, signature, committed).status is CommitStatus.VERIFIED
        assert ours == (letters[sha] == "G"), (name, letters[sha])
        verified |= {name} if ours else set()
    assert verified == {"good", "rsa", "sub"}
    assert (letters[made["tampered"]], letters[made["stranger"]]) == ("B", "E")


def test_key_validity_now_agrees_with_gpg_and_signing_time_is_opt_in(tmp_path: Path) -> None:
    """gpg judges by today (Y, R); so do we by default; `signing-time` judges at signing."""
    gpg = GnuPG(tmp_path / "signer")
    repo = Repo(tmp_path / "repo", gpg)
    expiring = gpg.gen_key("Exp <exp@example.com>", expire="1d", at=T0)
    superseded = gpg.gen_key("Sup <sup@example.com>", at=T0)
    # Both sign while valid; afterwards one expires and the other is superseded.
    made = [repo.commit("then valid", expiring, at=T0 + timedelta(hours=1)),
            repo.commit("then current", superseded, at=T0 + timedelta(hours=1))]
    gpg.import_keys(gpg.revocation_cert(superseded, REASON_SUPERSEDED))
    home = _verify_home(tmp_path / "verify-home", gpg, [expiring, superseded])
    letters = repo.status_letters(home.home)
    assert [letters[sha] for sha in made] == ["Y", "R"]
    keyring = OpenPgpKeyring.from_bytes(home.export())
    strict = OpenPgpVerifier(keyring)
    at_signing = OpenPgpVerifier(keyring, key_validity="signing-time")
    expected = [Reason.KEY_EXPIRED, Reason.KEY_REVOKED]
    for sha, reason in zip(made, expected, strict=True):
        payload, signature, committed = split_commit(repo.raw_commit(sha))
        assert signature is not None
        _expect(strict.verify(payload, signature, committed), CommitStatus.UNTRUSTED, reason)
        _expect(at_signing.verify(payload, signature, committed), CommitStatus.VERIFIED,
                Reason.OK)


def test_split_commit_reassembles_what_git_signed(world: World, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo", world.gpg)
    sha = repo.commit("multi\n\nline body", world.keys["alice"])
    payload, signature, _ = split_commit(repo.raw_commit(sha))
    assert signature is not None and signature.startswith(b"-----BEGIN PGP SIGNATURE-----")
    assert b"gpgsig" not in payload and payload.endswith(b"line body\n")
