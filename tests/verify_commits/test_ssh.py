"""SSH commit-signature verification against real ssh-keygen and git.

Most tests also run the same signature through the real tools the way git does (find-principals,
then verify -I each principal) and require the same outcome: the verifier's job is to decide as
git decides, only faster.
"""

from __future__ import annotations

import base64
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from ssh_fixtures import (
    KEYGEN_TYPES,
    KeyPair,
    PyEd25519Key,
    SkEcdsaKey,
    SkEd25519Key,
    armor,
    certify,
    committer_time,
    dearmor,
    git_env,
    git_style_ssh_keygen,
    keygen,
    mpint,
    read_string,
    rsa_sha1_signature,
    s,
    split_signed_commit,
    split_sshsig,
    ssh_sign,
    sshsig,
    u32,
    u64,
)
from ssh_fixtures import run as run_tool

from changegate.errors import InputError
from changegate.gates.verify_commits import ssh as ssh_module
from changegate.gates.verify_commits.allowed_signers import (
    ALLOWED_SIGNERS_RULE,
    REVOCATION_RULE,
    match_pattern_list,
    parse_openssh_time,
)
from changegate.gates.verify_commits.ssh import AllowedSigners, RevokedKeys, SshVerifier
from changegate.gates.verify_commits.verdict import (
    CommitStatus,
    Reason,
    SignatureFormat,
    SignatureVerdict,
    SignatureVerifier,
)

UTC = timezone.utc
NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
PAYLOAD = (b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
           b"author Alice <alice@example.com> 1748779200 +0000\n"
           b"committer Alice <alice@example.com> 1748779200 +0000\n\nA signed change\n")

VERIFIED = (CommitStatus.VERIFIED, Reason.OK)


def outcome(verdict: SignatureVerdict) -> tuple[CommitStatus, Reason]:
    return verdict.status, verdict.reason


def make_verifier(text: str, revoked: RevokedKeys | None = None) -> SshVerifier:
    return SshVerifier(AllowedSigners.parse(text, "allowed_signers"), revoked)


def check(tmp_path: Path, allowed_text: str, signature: bytes, *, payload: bytes = PAYLOAD,
          when: datetime = NOW, revoked: Path | None = None) -> SignatureVerdict:
    """Our verdict, after asserting the real ssh-keygen (driven like git) agrees with it."""
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(allowed_text)
    revoked_keys = RevokedKeys.from_file(revoked) if revoked else None
    verdict = SshVerifier(AllowedSigners.from_file(allowed), revoked_keys).verify(
        payload, signature, when)
    principal = git_style_ssh_keygen(allowed, signature, payload, when, tmp_path,
                                     revoked=revoked)
    assert (verdict.status is CommitStatus.VERIFIED) == (principal is not None), (
        f"ssh-keygen says {principal!r}, we say {verdict}")
    if principal is not None and verdict.signer is not None:
        assert principal in verdict.identities
    return verdict


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, KeyPair]:
    directory = tmp_path_factory.mktemp("keys")
    made = {kind: keygen(directory, kind, kind) for kind in KEYGEN_TYPES}
    for name in ("mallory", "ca", "ca2"):
        made[name] = keygen(directory, name)
    made["ca_rsa"] = keygen(directory, "ca_rsa", "rsa")
    made["ca_ecdsa"] = keygen(directory, "ca_ecdsa", "ecdsa384")
    return made


@pytest.fixture(scope="session")
def alice(keys: dict[str, KeyPair]) -> KeyPair:
    return keys["ed25519"]


@pytest.fixture(scope="session")
def alice_sig(alice: KeyPair) -> bytes:
    return ssh_sign(alice, PAYLOAD)


def test_conforms_to_the_verifier_protocol(alice: KeyPair) -> None:
    verifier: SignatureVerifier = make_verifier(f"a@x {alice.public}")
    assert isinstance(verifier, SshVerifier)


# ---------------------------------------------------------------------------------------------
# Key types and the basic verdicts


@pytest.mark.parametrize("kind", list(KEYGEN_TYPES))
def test_each_key_type_verifies(tmp_path: Path, keys: dict[str, KeyPair], kind: str) -> None:
    key = keys[kind]
    signature = ssh_sign(key, PAYLOAD)
    verdict = check(tmp_path, f"alice@example.com {key.public}\n", signature)
    assert outcome(verdict) == VERIFIED
    assert verdict.format is SignatureFormat.SSH
    assert verdict.fingerprint == key.fingerprint()
    assert verdict.signer == "alice@example.com"
    assert verdict.identities == ("alice@example.com",)


@pytest.mark.parametrize("kind", list(KEYGEN_TYPES))
def test_tampered_payload_is_a_bad_signature(tmp_path: Path, keys: dict[str, KeyPair],
                                             kind: str) -> None:
    key = keys[kind]
    signature = ssh_sign(key, PAYLOAD)
    verdict = check(tmp_path, f"alice@example.com {key.public}\n", signature,
                    payload=PAYLOAD.replace(b"A signed", b"A forged"))
    assert outcome(verdict) == (CommitStatus.INVALID, Reason.BAD_SIGNATURE)
    assert verdict.fingerprint == key.fingerprint()


def test_sha256_message_hash_verifies(tmp_path: Path, alice: KeyPair) -> None:
    signature = ssh_sign(alice, PAYLOAD, hash_alg="sha256")
    assert b"sha256" in dearmor(signature)
    assert outcome(check(tmp_path, f"a@x {alice.public}", signature)) == VERIFIED


def test_wrong_namespace_signature(tmp_path: Path, alice: KeyPair) -> None:
    signature = ssh_sign(alice, PAYLOAD, namespace="file")
    verdict = check(tmp_path, f"a@x {alice.public}", signature)
    assert outcome(verdict) == (CommitStatus.INVALID, Reason.WRONG_NAMESPACE)
    assert "'file'" in verdict.detail


def test_unknown_key(tmp_path: Path, keys: dict[str, KeyPair], alice: KeyPair) -> None:
    mallory = keys["mallory"]
    verdict = check(tmp_path, f"alice@example.com {alice.public}\n", ssh_sign(mallory, PAYLOAD))
    assert outcome(verdict) == (CommitStatus.UNTRUSTED, Reason.UNKNOWN_KEY)
    assert verdict.fingerprint == mallory.fingerprint()
    assert verdict.signer is None and verdict.identities == ()


def test_unknown_key_with_a_bad_signature_is_invalid(alice: KeyPair, keys: dict[str, KeyPair],
                                                     ) -> None:
    verdict = make_verifier(f"a@x {alice.public}").verify(
        PAYLOAD + b"!", ssh_sign(keys["mallory"], PAYLOAD), NOW)
    assert outcome(verdict) == (CommitStatus.INVALID, Reason.BAD_SIGNATURE)


def test_empty_allowed_signers_trusts_nobody(alice_sig: bytes) -> None:
    verifier = make_verifier("# nobody yet\n\n")
    assert outcome(verifier.verify(PAYLOAD, alice_sig, NOW)) == (
        CommitStatus.UNTRUSTED, Reason.UNKNOWN_KEY)


def test_naive_signing_time_is_utc(alice: KeyPair, alice_sig: bytes) -> None:
    verifier = make_verifier(f'a@x valid-before="20250601120000Z" {alice.public}')
    assert outcome(verifier.verify(PAYLOAD, alice_sig, datetime(2025, 6, 1, 12))) == VERIFIED
    assert verifier.verify(PAYLOAD, alice_sig, datetime(2025, 6, 1, 12, 0, 1)).reason is (
        Reason.OUTSIDE_VALIDITY)


# ---------------------------------------------------------------------------------------------
# Validity windows (signing time = committer time)


@pytest.mark.parametrize(("option", "when", "verified"), [
    ('valid-before="20240101Z"', NOW, False),
    ('valid-after="20300101Z"', NOW, False),
    ('valid-after="20300101"', NOW, False),  # local time zone, still years away
    ('valid-after="20200101Z",valid-before="20300101Z"', NOW, True),
    ('valid-before="20250601120000Z"', NOW, True),  # inclusive, like sshsig.c
    ('valid-before="20250601120000Z"', NOW + timedelta(seconds=1), False),
    ('valid-after="20250601120000Z"', NOW, True),
    ('valid-after="20250601120000Z"', NOW - timedelta(seconds=1), False),
    ('valid-after="202506011200Z"', NOW, True),
    ('valid-before="20250601UTC"', NOW, False),
])
def test_validity_window(tmp_path: Path, alice: KeyPair, alice_sig: bytes, *, option: str,
                         when: datetime, verified: bool) -> None:
    verdict = check(tmp_path, f"a@x {option} {alice.public}\n", alice_sig, when=when)
    expected = VERIFIED if verified else (CommitStatus.UNTRUSTED, Reason.OUTSIDE_VALIDITY)
    assert outcome(verdict) == expected
    assert verdict.fingerprint == alice.fingerprint()


def test_expired_key_names_the_line(alice: KeyPair, alice_sig: bytes) -> None:
    verifier = make_verifier(f'# header\na@x valid-before="20240101Z" {alice.public}\n')
    verdict = verifier.verify(PAYLOAD, alice_sig, NOW)
    assert "allowed_signers:2" in verdict.detail
    assert "2024-01-01T00:00:00Z" in verdict.detail


# ---------------------------------------------------------------------------------------------
# Principals and namespaces


@pytest.mark.parametrize(("namespaces", "verified"), [
    ('"git"', True),
    ('"file,git"', True),
    ('"gi?"', True),
    ('"*"', True),
    ('"file"', False),
    ('"!git,*"', False),
    ('"git-*"', False),
])
def test_namespaces_option(tmp_path: Path, alice: KeyPair, alice_sig: bytes, namespaces: str,
                           verified: bool) -> None:
    verdict = check(tmp_path, f"a@x namespaces={namespaces} {alice.public}", alice_sig)
    expected = VERIFIED if verified else (CommitStatus.UNTRUSTED, Reason.WRONG_NAMESPACE)
    assert outcome(verdict) == expected


@pytest.mark.parametrize(("principals", "signer", "identities"), [
    ("alice@example.com,alice@corp.example", "alice@example.com",
     ("alice@example.com", "alice@corp.example")),
    ("*@example.com", None, ()),
    ("alice@example.com,*@example.com", "alice@example.com", ("alice@example.com",)),
    ("!mallory@example.com,alice@example.com", "alice@example.com", ("alice@example.com",)),
    ('"Alice Example,alice@example.com"', "Alice Example", ("Alice Example", "alice@example.com")),
    ("alice@example.com,,ignored@example.com", "alice@example.com", ("alice@example.com",)),
])
def test_principals(tmp_path: Path, alice: KeyPair, alice_sig: bytes, *, principals: str,
                    signer: str | None, identities: tuple[str, ...]) -> None:
    verdict = check(tmp_path, f"{principals} {alice.public}\n", alice_sig)
    assert outcome(verdict) == VERIFIED
    assert verdict.signer == signer
    assert verdict.identities == identities


def test_only_negated_principals_verify_nobody(tmp_path: Path, alice: KeyPair,
                                               alice_sig: bytes) -> None:
    verdict = check(tmp_path, f"!alice@example.com {alice.public}\n", alice_sig)
    assert outcome(verdict) == (CommitStatus.UNTRUSTED, Reason.UNKNOWN_KEY)


def test_key_on_several_lines_has_every_identity(tmp_path: Path, alice: KeyPair,
                                                 alice_sig: bytes) -> None:
    text = (f"alice@example.com {alice.public}\n"
            f"bob@example.com {make_other_key()}\n"
            f"alice@corp.example namespaces=\"git\" {alice.public}\n"
            f"alice@old.example valid-before=\"20200101Z\" {alice.public}\n"
            f"alice@file.example namespaces=\"file\" {alice.public}\n")
    verdict = check(tmp_path, text, alice_sig)
    assert outcome(verdict) == VERIFIED
    assert verdict.signer == "alice@example.com"
    assert verdict.identities == ("alice@example.com", "alice@corp.example")


def make_other_key() -> str:
    return PyEd25519Key().public


def test_first_usable_line_decides_like_git(tmp_path: Path, alice: KeyPair,
                                            alice_sig: bytes) -> None:
    # find-principals ignores namespaces, so git tries only alice@file.example and fails,
    # although the second line would allow the key: we report what git reports.
    text = (f'alice@file.example namespaces="file" {alice.public}\n'
            f"alice@example.com {alice.public}\n")
    verdict = check(tmp_path, text, alice_sig)
    assert outcome(verdict) == (CommitStatus.UNTRUSTED, Reason.WRONG_NAMESPACE)


def test_first_usable_line_without_printable_principals_ends_the_search(
        tmp_path: Path, alice: KeyPair, alice_sig: bytes) -> None:
    text = f",alice@old.example {alice.public}\nalice@example.com {alice.public}\n"
    verdict = check(tmp_path, text, alice_sig)
    assert outcome(verdict) == (CommitStatus.UNTRUSTED, Reason.UNKNOWN_KEY)


def test_expired_line_is_skipped_for_a_later_one(tmp_path: Path, alice: KeyPair,
                                                 alice_sig: bytes) -> None:
    text = (f'alice@old.example valid-before="20200101Z" {alice.public}\n'
            f"alice@example.com {alice.public}\n")
    verdict = check(tmp_path, text, alice_sig)
    assert outcome(verdict) == VERIFIED
    assert verdict.signer == "alice@example.com"


def test_option_keywords_are_case_insensitive_and_crlf_is_fine(tmp_path: Path, alice: KeyPair,
                                                               alice_sig: bytes) -> None:
    text = f'a@x NAMESPACES="git",Valid-After="20200101Z" {alice.public} comment\r\n'
    assert outcome(check(tmp_path, text, alice_sig)) == VERIFIED


# ---------------------------------------------------------------------------------------------
# Certificates (cert-authority)


def cert_signer(tmp_path: Path, ca: KeyPair, principals: str, kind: str = "ed25519",
                **options: str | int | bool) -> tuple[KeyPair, bytes, Path]:
    """A fresh user key, a real certificate for it, and a commit signature made with it."""
    directory = tmp_path / f"user{len(list(tmp_path.glob('user*')))}"
    directory.mkdir()
    user = keygen(directory, "user", kind)
    cert = certify(ca, user, principals, **options)  # type: ignore[arg-type]
    return user, ssh_sign(cert, PAYLOAD), cert


@pytest.mark.parametrize(("ca_name", "kind"), [
    ("ca", "ed25519"), ("ca_rsa", "ecdsa256"), ("ca_ecdsa", "rsa"), ("ca", "ecdsa521"),
])
def test_certificate_from_trusted_ca(tmp_path: Path, keys: dict[str, KeyPair], ca_name: str,
                                     kind: str) -> None:
    ca = keys[ca_name]
    user, signature, _ = cert_signer(tmp_path, ca, "alice@example.com,alice", kind,
                                     identity="alice-laptop", serial=7)
    verdict = check(tmp_path, f"*@example.com cert-authority {ca.public}\n", signature)
    assert outcome(verdict) == VERIFIED
    assert verdict.signer == "alice@example.com"
    assert verdict.identities == ("alice@example.com",)
    assert verdict.fingerprint == user.fingerprint()
    assert ca.fingerprint() in verdict.detail and "alice-laptop" in verdict.detail


@pytest.mark.parametrize(("line", "validity", "reason"), [
    ("bob@example.com cert-authority {ca}", "always:forever", Reason.UNKNOWN_KEY),
    ("*@example.com {ca}", "always:forever", Reason.UNKNOWN_KEY),  # no cert-authority
    ("*@example.com cert-authority {ca}", "20200101:20210101", Reason.OUTSIDE_VALIDITY),
    ("*@example.com cert-authority {ca}", "20300101:20310101", Reason.OUTSIDE_VALIDITY),
    ('*@example.com cert-authority,namespaces="file" {ca}', "always:forever",
     Reason.WRONG_NAMESPACE),
    ('*@example.com cert-authority,valid-before="20240101Z" {ca}', "always:forever",
     Reason.OUTSIDE_VALIDITY),
])
def test_certificate_not_accepted(tmp_path: Path, keys: dict[str, KeyPair], line: str,
                                  validity: str, reason: Reason) -> None:
    ca = keys["ca"]
    _, signature, _ = cert_signer(tmp_path, ca, "alice@example.com", validity=validity)
    verdict = check(tmp_path, line.format(ca=ca.public) + "\n", signature)
    assert outcome(verdict) == (CommitStatus.UNTRUSTED, reason)


def test_certificate_expiry_is_judged_at_signing_time(tmp_path: Path,
                                                      keys: dict[str, KeyPair]) -> None:
    ca = keys["ca"]
    _, signature, _ = cert_signer(tmp_path, ca, "alice@example.com",
                                  validity="20250101:20250601120000")
    line = f"*@example.com cert-authority {ca.public}\n"
    before = NOW - timedelta(seconds=1)
    assert outcome(check(tmp_path, line, signature, when=before)) == VERIFIED
    # valid_before is exclusive for certificates (sshkey_cert_check_authority)
    assert check(tmp_path, line, signature, when=NOW).reason is Reason.OUTSIDE_VALIDITY


def test_host_certificate_is_not_a_signer(tmp_path: Path, keys: dict[str, KeyPair]) -> None:
    ca = keys["ca"]
    _, signature, _ = cert_signer(tmp_path, ca, "alice@example.com", host=True)
    verdict = check(tmp_path, f"*@example.com cert-authority {ca.public}\n", signature)
    assert outcome(verdict) == (CommitStatus.UNTRUSTED, Reason.UNKNOWN_KEY)
    assert "host certificate" in verdict.detail


def test_certificate_from_an_untrusted_ca(tmp_path: Path, keys: dict[str, KeyPair]) -> None:
    _, signature, _ = cert_signer(tmp_path, keys["ca2"], "alice@example.com")
    verdict = check(tmp_path, f"*@example.com cert-authority {keys['ca'].public}\n", signature)
    assert outcome(verdict) == (CommitStatus.UNTRUSTED, Reason.UNKNOWN_KEY)
    assert keys["ca2"].fingerprint() in verdict.detail


def test_certified_key_listed_plainly_does_not_match_the_certificate(
        tmp_path: Path, keys: dict[str, KeyPair]) -> None:
    user, signature, _ = cert_signer(tmp_path, keys["ca"], "alice@example.com")
    verdict = check(tmp_path, f"alice@example.com {user.public}\n", signature)
    assert outcome(verdict) == (CommitStatus.UNTRUSTED, Reason.UNKNOWN_KEY)


def test_certificate_listed_itself_matches(tmp_path: Path, keys: dict[str, KeyPair]) -> None:
    _, signature, cert = cert_signer(tmp_path, keys["ca"], "alice@example.com")
    cert_line = " ".join(cert.read_text().split()[:2])
    verdict = check(tmp_path, f"someone@example.com {cert_line}\n", signature)
    assert outcome(verdict) == VERIFIED
    assert verdict.signer == "someone@example.com"


def test_forged_certificate_is_a_bad_signature(tmp_path: Path, keys: dict[str, KeyPair]) -> None:
    """Swap the certificate's principal after the CA signed it; the commit signature itself
    stays valid (SSHSIG does not sign the public key), so only the CA signature catches it."""
    ca = keys["ca"]
    _, signature, _ = cert_signer(tmp_path, ca, "mallory@example.com")
    fields = split_sshsig(dearmor(signature))
    # Same length, so the certificate still parses.
    forged_cert = fields["public_key"].replace(b"mallory@example.com", b"alice42@example.com")
    forged = armor(sshsig(forged_cert, fields["signature"]))
    verdict = check(tmp_path, f"alice42@example.com cert-authority {ca.public}\n", forged)
    assert outcome(verdict) == (CommitStatus.INVALID, Reason.BAD_SIGNATURE)
    assert "CA" in verdict.detail


# ---------------------------------------------------------------------------------------------
# Revocation


def test_revoked_key_in_a_plain_list(tmp_path: Path, keys: dict[str, KeyPair], alice: KeyPair,
                                     alice_sig: bytes) -> None:
    bob = keys["ecdsa256"]
    revoked = tmp_path / "revoked"
    revoked.write_text(f"# revoked after the laptop was stolen\n\n{alice.pub_path.read_text()}")
    text = f"alice@example.com {alice.public}\nbob@example.com {bob.public}\n"
    verdict = check(tmp_path, text, alice_sig, revoked=revoked)
    assert outcome(verdict) == (CommitStatus.UNTRUSTED, Reason.KEY_REVOKED)
    assert verdict.fingerprint == alice.fingerprint()
    assert outcome(check(tmp_path, text, ssh_sign(bob, PAYLOAD), revoked=revoked)) == VERIFIED


@pytest.mark.parametrize("spec", ["key", "sha1", "sha256", "hash"])
def test_revoked_key_in_a_binary_krl(tmp_path: Path, alice: KeyPair, alice_sig: bytes,
                                     spec: str) -> None:
    spec_file = tmp_path / "spec"
    value = alice.fingerprint() if spec == "hash" else alice.public
    spec_file.write_text(f"{spec}: {value}\n")
    krl = tmp_path / "revoked.krl"
    run_tool("ssh-keygen", "-k", "-f", krl, spec_file)
    assert krl.read_bytes().startswith(b"SSHKRL\n\0")
    verdict = check(tmp_path, f"a@x {alice.public}", alice_sig, revoked=krl)
    assert outcome(verdict) == (CommitStatus.UNTRUSTED, Reason.KEY_REVOKED)


def test_krl_of_other_keys_leaves_the_key_alone(tmp_path: Path, keys: dict[str, KeyPair],
                                                alice: KeyPair, alice_sig: bytes) -> None:
    krl = tmp_path / "revoked.krl"
    run_tool("ssh-keygen", "-k", "-f", krl, keys["mallory"].pub_path)
    assert outcome(check(tmp_path, f"a@x {alice.public}", alice_sig, revoked=krl)) == VERIFIED


@pytest.mark.parametrize(("spec", "revoked"), [
    ("serial: 7", True),
    ("serial: 5-9", True),
    ("serial: 8", False),
    ("serial: 1\nserial: 3\nserial: 5\nserial: 7\nserial: 9\nserial: 11", True),
    ("id: alice-laptop", True),
    ("id: bob-laptop", False),
])
def test_certificate_revoked_in_a_krl(tmp_path: Path, keys: dict[str, KeyPair], spec: str,
                                      revoked: bool) -> None:
    ca = keys["ca"]
    _, signature, _ = cert_signer(tmp_path, ca, "alice@example.com", identity="alice-laptop",
                                  serial=7)
    spec_file = tmp_path / "spec"
    spec_file.write_text(spec + "\n")
    krl = tmp_path / "revoked.krl"
    run_tool("ssh-keygen", "-k", "-f", krl, "-s", ca.pub_path, spec_file)
    verdict = check(tmp_path, f"*@example.com cert-authority {ca.public}\n", signature,
                    revoked=krl)
    assert outcome(verdict) == ((CommitStatus.UNTRUSTED, Reason.KEY_REVOKED) if revoked
                                else VERIFIED)


@pytest.mark.parametrize("what", ["ca", "user", "cert"])
def test_certificate_revoked_by_plain_key_list(tmp_path: Path, keys: dict[str, KeyPair],
                                               what: str) -> None:
    ca = keys["ca"]
    user, signature, cert = cert_signer(tmp_path, ca, "alice@example.com")
    listed = {"ca": ca.pub_path, "user": user.pub_path, "cert": cert}[what]
    revoked = tmp_path / "revoked"
    revoked.write_text(listed.read_text())
    verdict = check(tmp_path, f"*@example.com cert-authority {ca.public}\n", signature,
                    revoked=revoked)
    assert outcome(verdict) == (CommitStatus.UNTRUSTED, Reason.KEY_REVOKED)


def test_malformed_revocation_list_names_the_line(tmp_path: Path, alice: KeyPair) -> None:
    revoked = tmp_path / "revoked"
    revoked.write_text(f"{alice.public}\nthis is not a key\n")
    with pytest.raises(InputError) as caught:
        RevokedKeys.from_file(revoked)
    assert caught.value.rule == REVOCATION_RULE
    assert caught.value.location.file == str(revoked)
    assert caught.value.location.line == 2


def krl_header() -> bytes:
    return b"SSHKRL\n\0" + u32(1) + u64(1) + u64(0) + u64(0) + s(b"") + s(b"")


@pytest.mark.parametrize(("body", "message"), [
    (s(b"key") + s(b"sig"), "signed KRLs"),
    (s(b"ext@example.com") + b"\x01" + s(b""), "critical KRL extension"),
    (b"", "unknown KRL section"),
])
def test_unusable_krl_fails_closed(tmp_path: Path, body: bytes, message: str) -> None:
    section = {"signed KRLs": 4, "critical KRL extension": 255, "unknown KRL section": 9}[message]
    krl = tmp_path / "revoked.krl"
    krl.write_bytes(krl_header() + bytes([section]) + s(body))
    with pytest.raises(InputError, match=message) as caught:
        RevokedKeys.from_file(krl)
    assert caught.value.rule == REVOCATION_RULE


def test_krl_with_bad_version_or_truncation_fails_closed(tmp_path: Path) -> None:
    krl = tmp_path / "revoked.krl"
    krl.write_bytes(b"SSHKRL\n\0" + u32(2))
    with pytest.raises(InputError, match="version 2"):
        RevokedKeys.from_file(krl)
    krl.write_bytes(krl_header()[:-3])
    with pytest.raises(InputError, match="truncated"):
        RevokedKeys.from_file(krl)


def test_non_critical_krl_extension_is_ignored(alice: KeyPair, alice_sig: bytes) -> None:
    ext = s(b"bloom@example.com") + b"\x00" + s(b"whatever")
    revoked = RevokedKeys.parse_krl(krl_header() + bytes([255]) + s(ext))
    verifier = make_verifier(f"a@x {alice.public}", revoked)
    assert outcome(verifier.verify(PAYLOAD, alice_sig, NOW)) == VERIFIED


def test_krl_serial_bitmap(keys: dict[str, KeyPair], tmp_path: Path) -> None:
    ca = keys["ca"]
    _, signature, _ = cert_signer(tmp_path, ca, "alice@example.com", serial=70)
    bitmap = (1 << (70 - 64)) | 1
    section = s(ca.blob) + s(b"") + bytes([0x22]) + s(u64(64) + mpint(bitmap))
    revoked = RevokedKeys.parse_krl(krl_header() + bytes([1]) + s(section))
    verifier = make_verifier(f"*@example.com cert-authority {ca.public}", revoked)
    assert verifier.verify(PAYLOAD, signature, NOW).reason is Reason.KEY_REVOKED


def test_missing_trust_files_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        AllowedSigners.from_file(tmp_path / "nope")
    assert caught.value.rule == ALLOWED_SIGNERS_RULE
    with pytest.raises(InputError) as caught:
        RevokedKeys.from_file(tmp_path / "nope")
    assert caught.value.rule == REVOCATION_RULE


# ---------------------------------------------------------------------------------------------
# FIDO security keys (sk-): built by hand per PROTOCOL.u2f, cross-checked with ssh-keygen


@pytest.mark.parametrize("key_class", [SkEd25519Key, SkEcdsaKey])
def test_security_key_signature_verifies(tmp_path: Path, key_class: type[SkEd25519Key]) -> None:
    key = key_class()
    signature = key.sign(PAYLOAD, flags=0x01, counter=1234)
    sig_file = tmp_path / "sig"
    sig_file.write_bytes(signature)
    # The real ssh-keygen accepts our hand-made signature: the builder follows PROTOCOL.u2f.
    run_tool("ssh-keygen", "-Y", "check-novalidate", "-n", "git", "-s", sig_file, stdin=PAYLOAD)
    verdict = check(tmp_path, f"alice@example.com {key.public}\n", signature)
    assert outcome(verdict) == VERIFIED
    assert verdict.signer == "alice@example.com"
    assert verdict.fingerprint is not None and verdict.fingerprint.startswith("SHA256:")


@pytest.mark.parametrize("key_class", [SkEd25519Key, SkEcdsaKey])
def test_security_key_tampering(tmp_path: Path, key_class: type[SkEd25519Key]) -> None:
    key = key_class()
    line = f"alice@example.com {key.public}\n"
    verdict = check(tmp_path, line, key.sign(PAYLOAD), payload=PAYLOAD + b"\n")
    assert outcome(verdict) == (CommitStatus.INVALID, Reason.BAD_SIGNATURE)
    # Flags are signed: setting the user-presence bit afterwards breaks the signature.
    fields = split_sshsig(dearmor(key.sign(PAYLOAD, flags=0x00)))
    sig = bytearray(fields["signature"])
    sig[-5] |= 0x01
    forged = armor(sshsig(fields["public_key"], bytes(sig)))
    assert outcome(check(tmp_path, line, forged)) == (CommitStatus.INVALID, Reason.BAD_SIGNATURE)


@pytest.mark.parametrize("key_class", [SkEd25519Key, SkEcdsaKey])
def test_security_key_without_touch_is_refused(tmp_path: Path,
                                               key_class: type[SkEd25519Key]) -> None:
    key = key_class()
    signature = key.sign(PAYLOAD, flags=0x00)
    verdict = make_verifier(f"alice@example.com {key.public}").verify(PAYLOAD, signature, NOW)
    assert outcome(verdict) == (CommitStatus.INVALID, Reason.BAD_SIGNATURE)
    assert "user presence" in verdict.detail
    # OpenSSH itself does not look at the flags: this check is ours, on purpose.
    allowed = tmp_path / "allowed"
    allowed.write_text(f"alice@example.com {key.public}\n")
    assert git_style_ssh_keygen(allowed, signature, PAYLOAD, NOW, tmp_path) == "alice@example.com"
    relaxed = make_verifier(f"alice@example.com no-touch-required {key.public}")
    assert outcome(relaxed.verify(PAYLOAD, signature, NOW)) == VERIFIED


def test_security_key_refusal_names_the_real_reason() -> None:
    key = SkEd25519Key()
    text = (f'alice@old.example valid-before="20200101Z" {key.public}\n'
            f"alice@example.com {key.public}\n")
    verdict = make_verifier(text).verify(PAYLOAD, key.sign(PAYLOAD, flags=0), NOW)
    assert outcome(verdict) == (CommitStatus.INVALID, Reason.BAD_SIGNATURE)
    assert "allowed_signers:2" in verdict.detail


@pytest.mark.parametrize(("flags", "verified"), [(0x01, False), (0x05, True), (0x04, False)])
def test_security_key_verify_required(flags: int, verified: bool) -> None:
    key = SkEd25519Key()
    verifier = make_verifier(f"alice@example.com verify-required {key.public}")
    verdict = verifier.verify(PAYLOAD, key.sign(PAYLOAD, flags=flags), NOW)
    assert outcome(verdict) == (VERIFIED if verified
                                else (CommitStatus.INVALID, Reason.BAD_SIGNATURE))


def test_security_key_application_is_part_of_the_key(tmp_path: Path) -> None:
    key = SkEd25519Key(application="ssh:work")
    other_app = SkEd25519Key(application="ssh:")
    other_app.private = key.private  # same key pair, registered for another application
    other_app.blob = other_app.blob[:-len(s("ssh:"))] + s("ssh:")
    verdict = check(tmp_path, f"alice@example.com {other_app.public}\n", key.sign(PAYLOAD))
    assert outcome(verdict) == (CommitStatus.UNTRUSTED, Reason.UNKNOWN_KEY)


# ---------------------------------------------------------------------------------------------
# Malformed and unsupported signatures


@pytest.fixture(scope="module")
def pykey() -> PyEd25519Key:
    return PyEd25519Key()


def test_hand_built_envelope_is_what_ssh_keygen_builds(tmp_path: Path,
                                                       pykey: PyEd25519Key) -> None:
    assert outcome(check(tmp_path, f"a@x {pykey.public}", pykey.sign(PAYLOAD))) == VERIFIED


def test_rsa_sha1_signature_is_unsupported(tmp_path: Path, keys: dict[str, KeyPair]) -> None:
    rsa_key = keys["rsa"]
    verdict = check(tmp_path, f"a@x {rsa_key.public}", rsa_sha1_signature(rsa_key.path, PAYLOAD))
    assert outcome(verdict) == (CommitStatus.INVALID, Reason.UNSUPPORTED_ALGORITHM)
    assert "SHA-1" in verdict.detail


MakeSignature = Callable[[PyEd25519Key], bytes]


def _dsa_blob() -> bytes:
    return s("ssh-dss") + mpint(23) + mpint(11) + mpint(4) + mpint(8)


def _envelope(pykey: PyEd25519Key, **changes: bytes | str | int) -> bytes:
    fields: dict[str, bytes | str | int] = {
        "public_key": pykey.blob, "signature": pykey.sign_blob(b"x"), "namespace": "git",
        "hash_alg": "sha512"}
    fields.update(changes)
    return armor(sshsig(**fields))  # type: ignore[arg-type]


@pytest.mark.parametrize(("make", "reason"), [
    (lambda k: b"", Reason.MALFORMED),
    (lambda k: b"not a signature", Reason.MALFORMED),
    (lambda k: b"-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n",
     Reason.MALFORMED),
    (lambda k: k.sign(PAYLOAD).replace(b"-----END SSH SIGNATURE-----", b""), Reason.MALFORMED),
    (lambda k: k.sign(PAYLOAD).replace(b"\n", b"\r\n"), Reason.MALFORMED),
    (lambda k: k.sign(PAYLOAD)[:40] + b"*" + k.sign(PAYLOAD)[41:], Reason.MALFORMED),
    (lambda k: k.sign(PAYLOAD, magic=b"SSHSIH"), Reason.MALFORMED),
    (lambda k: k.sign(PAYLOAD, version=2), Reason.MALFORMED),
    (lambda k: armor(dearmor(k.sign(PAYLOAD)) + b"\0"), Reason.MALFORMED),
    (lambda k: armor(dearmor(k.sign(PAYLOAD))[:-10]), Reason.MALFORMED),
    (lambda k: k.sign(PAYLOAD, hash_alg="sha1"), Reason.UNSUPPORTED_ALGORITHM),
    (lambda k: k.sign(PAYLOAD, hash_alg="sha384"), Reason.UNSUPPORTED_ALGORITHM),
    (lambda k: _envelope(k, public_key=_dsa_blob()), Reason.UNSUPPORTED_ALGORITHM),
    (lambda k: _envelope(k, public_key=s("ssh-foo@example.com") + s(b"x")),
     Reason.UNSUPPORTED_ALGORITHM),
    (lambda k: _envelope(k, public_key=s("ssh-ed25519") + s(b"\1" * 31)), Reason.MALFORMED),
    (lambda k: _envelope(k, public_key=k.blob + b"\0"), Reason.MALFORMED),
    (lambda k: _envelope(k, signature=s("ecdsa-sha2-nistp256") + s(b"\1" * 64)),
     Reason.MALFORMED),
    (lambda k: _envelope(k, signature=s("ssh-ed25519") + s(b"\1" * 63)), Reason.MALFORMED),
    (lambda k: _envelope(k, signature=s("ssh-ed25519") + s(b"\1" * 64) + b"x"),
     Reason.MALFORMED),
    (lambda k: _envelope(k, signature=s("ssh-ed25519") + s(b"\1" * 64)), Reason.BAD_SIGNATURE),
], ids=lambda v: v.value if isinstance(v, Reason) else None)
def test_malformed_or_unsupported(tmp_path: Path, pykey: PyEd25519Key, *, make: MakeSignature,
                                  reason: Reason) -> None:
    verdict = check(tmp_path, f"a@x {pykey.public}", make(pykey))
    assert outcome(verdict) == (CommitStatus.INVALID, reason)
    assert verdict.detail


@pytest.mark.parametrize("signature", [
    pytest.param(lambda k: k.sign(PAYLOAD, reserved=b"future"), id="reserved-field-not-empty"),
    pytest.param(lambda k: k.sign(PAYLOAD) + b"trailing text\n", id="text-after-armor"),
])
def test_stricter_than_openssh_on_envelope_oddities(tmp_path: Path, pykey: PyEd25519Key,
                                                    signature: MakeSignature) -> None:
    """ssh-keygen ignores the reserved field and text after the footer; git never writes
    either, so we refuse them rather than accept data nobody can account for."""
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"a@x {pykey.public}\n")
    odd = signature(pykey)
    assert git_style_ssh_keygen(allowed, odd, PAYLOAD, NOW, tmp_path) == "a@x"
    verdict = make_verifier(f"a@x {pykey.public}").verify(PAYLOAD, odd, NOW)
    assert outcome(verdict) == (CommitStatus.INVALID, Reason.MALFORMED)


def _mutations(blob: bytes, rng: random.Random, count: int) -> list[bytes]:
    """Bit flips, truncations, insertions and absurd length fields over a valid blob."""
    out: list[bytes] = []
    for _ in range(count):
        data = bytearray(blob)
        pos = rng.randrange(len(data))
        op = rng.randrange(4)
        if op == 0:
            data[pos] ^= 1 << rng.randrange(8)
        elif op == 1:
            del data[pos:]
        elif op == 2:
            data.insert(pos, rng.randrange(256))
        else:
            data[pos:pos + 4] = u32(rng.choice([0, 1, 0x7FFFFFFF, 0xFFFFFFFF, len(data)]))
        if bytes(data) != blob:
            out.append(bytes(data))
    return out


@pytest.mark.parametrize("signer", ["ed25519", "ecdsa256", "rsa", "cert", "sk-ed25519",
                                    "sk-ecdsa"])
def test_mutated_signatures_never_verify_and_never_raise(
        tmp_path: Path, keys: dict[str, KeyPair], signer: str) -> None:
    if signer == "cert":
        _, signature, _ = cert_signer(tmp_path, keys["ca"], "alice@example.com")
        line = f"*@example.com cert-authority {keys['ca'].public}"
    elif signer.startswith("sk-"):
        sk_key = SkEd25519Key() if signer == "sk-ed25519" else SkEcdsaKey()
        signature, line = sk_key.sign(PAYLOAD), f"alice@example.com {sk_key.public}"
    else:
        signature = ssh_sign(keys[signer], PAYLOAD)
        line = f"alice@example.com {keys[signer].public}"
    verifier = make_verifier(line)
    assert outcome(verifier.verify(PAYLOAD, signature, NOW)) == VERIFIED
    rng = random.Random(signer)  # noqa: S311 - reproducible fuzzing, not key material
    for mutated in _mutations(dearmor(signature), rng, 400):
        verdict = verifier.verify(PAYLOAD, armor(mutated), NOW)
        assert verdict.status is not CommitStatus.VERIFIED, mutated
        assert verdict.detail


# ---------------------------------------------------------------------------------------------
# allowed_signers parsing


def test_parse_skips_comments_and_blank_lines(alice: KeyPair, pykey: PyEd25519Key) -> None:
    text = (f"# team keys\n\n   \n  alice@example.com {alice.public} alice laptop\n"
            f"\t# indented comment\n"
            f'"bob b@x" namespaces="git,\\"odd\\"",valid-after="20240101" {pykey.public}\n')
    signers = list(AllowedSigners.parse(text, "team_signers"))
    assert [(s.line, s.principals) for s in signers] == [(4, "alice@example.com"), (6, "bob b@x")]
    assert signers[1].options.namespaces == 'git,"odd"'
    assert signers[1].options.valid_after == int(datetime(2024, 1, 1).timestamp())  # local time


@pytest.mark.parametrize(("value", "expected"), [
    ("20240101Z", datetime(2024, 1, 1, tzinfo=UTC)),
    ("20240101z", datetime(2024, 1, 1, tzinfo=UTC)),
    ("20240101UTC", datetime(2024, 1, 1, tzinfo=UTC)),
    ("202401021304Z", datetime(2024, 1, 2, 13, 4, tzinfo=UTC)),
    ("20240102130405Z", datetime(2024, 1, 2, 13, 4, 5, tzinfo=UTC)),
    ("20240102130405", datetime(2024, 1, 2, 13, 4, 5)),  # naive: the machine's local time
])
def test_openssh_time_formats(value: str, expected: datetime) -> None:
    assert parse_openssh_time(value) == int(expected.timestamp())


def test_pattern_lists_follow_openssh() -> None:
    assert match_pattern_list("alice@example.com", "*@example.com") == 1
    assert match_pattern_list("alice@example.com", "alice@example.co?") == 1
    assert match_pattern_list("alice@example.com", "bob@example.com") == 0
    assert match_pattern_list("alice@example.com", "*,!alice@*") == -1
    assert match_pattern_list("a.b", "a?b") == 1 and match_pattern_list("a+b", "a.b") == 0


# (line template, message fragment, does ssh-keygen also reject it?)
BAD_LINES = [
    ("alice@example.com", "no key", True),
    ("alice@example.com namespaces=\"git\"", "no key", True),
    ("alice@example.com {key} extra", None, False),  # comment after the key: fine
    ("alice@example.com ssh-ed25519 AAAA!!!", "base64", True),
    ("alice@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5", "invalid key", True),
    ("alice@example.com bogus-option {key}", "unknown option", True),
    ("alice@example.com no-pty {key}", "unknown option", True),
    ("alice@example.com namespaces=git {key}", "double-quoted", True),
    ("alice@example.com namespaces=\"git {key}", "double quote", True),
    ("alice@example.com namespaces=\"git\",namespaces=\"file\" {key}", "multiple", True),
    ("alice@example.com namespaces=\"git\", {key}", "comma", True),
    ("alice@example.com cert-authorityx {key}", "unknown option", True),
    ("alice@example.com valid-after=\"2024\" {key}", "valid-after", True),
    ("alice@example.com valid-after=\"19700101Z\" {key}", "valid-after", True),
    ("alice@example.com valid-before=\"20240101Z\",valid-after=\"20250101Z\" {key}",
     "not after", True),
    ("alice@example.com valid-after=\"20230231Z\" {key}", "not a real date", False),
    ("\"alice@example.com {key}", "closing double quote", False),
    ('"" {key}', "empty", False),
    ("alice@example.com namespaces=\"\" {key}", "empty", False),
    ("alice@example.com ssh-rsa {b64}", "labelled ssh-rsa", True),
    ("alice@example.com ssh-dss AAAAB3NzaC1kc3MAAAABFwAAAAELAAAAAQQAAAABCA==", "ssh-dss", False),
    ("alice@example.com cert-authority {cert}", "plain public key", False),
    ("alice@example.com ssh-foo AAAAB3NzaC1kc3M=", "unknown key type 'ssh-foo'", True),
]


@pytest.mark.parametrize(("template", "message", "openssh_rejects"), BAD_LINES)
def test_malformed_lines_name_file_and_line(tmp_path: Path, alice: KeyPair, alice_sig: bytes, *,
                                            keys: dict[str, KeyPair], template: str,
                                            message: str | None, openssh_rejects: bool) -> None:
    _, _, cert = cert_signer(tmp_path, keys["ca"], "x") if "{cert}" in template else (
        None, None, None)
    line = template.format(key=alice.public, b64=alice.public.split()[1],
                           cert=" ".join(cert.read_text().split()[:2]) if cert else "")
    text = f"# first line\n{line}\n"
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(text)
    if message is None:
        AllowedSigners.from_file(allowed)
        return
    with pytest.raises(InputError, match=message) as caught:
        AllowedSigners.from_file(allowed)
    assert caught.value.rule == ALLOWED_SIGNERS_RULE
    assert caught.value.location.file == str(allowed)
    assert caught.value.location.line == 2
    assert f"{allowed}:2" in str(caught.value)
    if openssh_rejects:
        sig_file = tmp_path / "sig"
        sig_file.write_bytes(alice_sig)
        found = run_tool("ssh-keygen", "-Y", "find-principals", "-f", allowed, "-s", sig_file,
                         check=False)
        assert found.returncode != 0
        assert f"{allowed}:2" in found.stderr.decode()


def test_non_utf8_allowed_signers_is_an_input_error(tmp_path: Path) -> None:
    allowed = tmp_path / "allowed_signers"
    allowed.write_bytes(b"\xff\xfe garbage\n")
    with pytest.raises(InputError, match="UTF-8"):
        AllowedSigners.from_file(allowed)


# ---------------------------------------------------------------------------------------------
# Speed and caching


def test_thousand_signatures_verify_fast(pykey: PyEd25519Key) -> None:
    verifier = make_verifier(f"alice@example.com {pykey.public}\n")
    payloads = [PAYLOAD + f"commit {i}\n".encode() for i in range(1000)]
    signatures = [pykey.sign(p) for p in payloads]
    start = time.perf_counter()
    verdicts = [verifier.verify(p, sig, NOW) for p, sig in zip(payloads, signatures, strict=True)]
    elapsed = time.perf_counter() - start
    assert all(v.status is CommitStatus.VERIFIED for v in verdicts)
    print(f"\n1000 ed25519 SSH signatures verified in {elapsed * 1000:.1f} ms "
          f"({elapsed:.3f} ms each)")
    assert elapsed < 1.0  # the target is well under 1 ms a signature


def test_signing_keys_are_parsed_once(pykey: PyEd25519Key) -> None:
    verifier = make_verifier(f"alice@example.com {pykey.public}\n")
    signature = pykey.sign(PAYLOAD)
    verifier.verify(PAYLOAD, signature, NOW)
    hits = ssh_module.load_signing_key.cache_info().hits
    verifier.verify(PAYLOAD, signature, NOW)
    assert ssh_module.load_signing_key.cache_info().hits == hits + 1


# ---------------------------------------------------------------------------------------------
# Parity with git itself


def test_split_signed_commit_round_trip() -> None:
    raw = (b"tree abc\nparent def\nauthor A <a@x> 1 +0000\ncommitter A <a@x> 2 +0000\n"
           b"gpgsig -----BEGIN SSH SIGNATURE-----\n AAAA\n \n -----END SSH SIGNATURE-----\n"
           b"\nmessage\n\n with indented body\n")
    payload, signature = split_signed_commit(raw)
    assert signature == b"-----BEGIN SSH SIGNATURE-----\nAAAA\n\n-----END SSH SIGNATURE-----\n"
    assert payload == (b"tree abc\nparent def\nauthor A <a@x> 1 +0000\n"
                       b"committer A <a@x> 2 +0000\n\nmessage\n\n with indented body\n")
    assert committer_time(raw) == datetime.fromtimestamp(2, UTC)


def test_parity_with_git_log(tmp_path: Path, keys: dict[str, KeyPair]) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = git_env(home)
    repo = tmp_path / "repo"
    run_tool("git", "init", "-q", "-b", "main", repo, env=env)
    people = tmp_path / "people"
    people.mkdir()
    ca = keys["ca"]
    signers: dict[str, Path] = {}
    for name, kind in [("alice", "ed25519"), ("bob", "ecdsa256"), ("carol", "rsa"),
                       ("mallory", "ed25519"), ("dave", "ed25519"), ("erin", "ed25519"),
                       ("gina", "ecdsa384"), ("hank", "ed25519")]:
        signers[name] = keygen(people, name, kind).path
    frank = keygen(people, "frank")
    signers["frank"] = certify(ca, frank, "frank@example.com", identity="frank", serial=3)
    pub = {name: " ".join(Path(str(p) + ("" if p.name.endswith(".pub") else ".pub"))
                          .read_text().split()[:2]) for name, p in signers.items()}
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(
        f"alice@example.com {pub['alice']}\n"
        f"bob@example.com,robert@example.com {pub['bob']}\n"
        f"carol@example.com {pub['carol']}\n"
        f'dave@example.com valid-before="20240101Z" {pub["dave"]}\n'
        f'erin@example.com namespaces="file" {pub["erin"]}\n'
        f"*@example.com cert-authority {ca.public}\n"
        f"gina@example.com {pub['gina']}\n"
        f'hank@example.com valid-after="20300101Z" {pub["hank"]}\n')
    revoked = tmp_path / "revoked_keys"
    revoked.write_text(pub["gina"] + "\n")
    commits = [("alice", "2025-06-01T12:00:00Z"), ("bob", "2025-06-01T12:01:00Z"),
               ("carol", "2025-06-01T12:02:00Z"), ("mallory", "2025-06-01T12:03:00Z"),
               ("dave", "2023-06-01T12:00:00Z"), ("dave", "2025-06-01T12:04:00Z"),
               ("erin", "2025-06-01T12:05:00Z"), ("frank", "2025-06-01T12:06:00Z"),
               ("gina", "2025-06-01T12:07:00Z"), ("hank", "2025-06-01T12:08:00Z")]
    for number, (name, date) in enumerate(commits):
        commit_env = dict(env, GIT_COMMITTER_DATE=date, GIT_AUTHOR_DATE=date)
        run_tool("git", "-C", repo, "-c", f"user.name={name}",
                 "-c", f"user.email={name}@example.com", "-c", "gpg.format=ssh",
                 "-c", f"user.signingkey={signers[name]}", "commit", "-q", "-S",
                 "--allow-empty", "-m", f"change {number} by {name}", env=commit_env)
    log = run_tool("git", "-C", repo, "-c", f"gpg.ssh.allowedSignersFile={allowed}",
                   "-c", f"gpg.ssh.revocationFile={revoked}", "log", "--format=%H %G? %GS",
                   env=env).stdout.decode().splitlines()
    verifier = SshVerifier(AllowedSigners.from_file(allowed), RevokedKeys.from_file(revoked))
    results = []
    for entry in log:
        sha, status, *principal = entry.split(" ", 2)
        raw = run_tool("git", "-C", repo, "cat-file", "commit", sha, env=env).stdout
        payload, signature = split_signed_commit(raw)
        assert signature is not None
        verdict = verifier.verify(payload, signature, committer_time(raw))
        results.append((status, verdict.status.value, verdict.reason.value))
        assert (status == "G") == (verdict.status is CommitStatus.VERIFIED), (entry, verdict)
        if status == "G":
            assert verdict.signer == principal[0]
    # Every kind of outcome was exercised, newest commit first.
    assert [r[2] for r in results] == [
        "OUTSIDE_VALIDITY", "KEY_REVOKED", "OK", "WRONG_NAMESPACE", "OUTSIDE_VALIDITY", "OK",
        "UNKNOWN_KEY", "OK", "OK", "OK"]


def test_fingerprint_matches_ssh_keygen_for_all_types(keys: dict[str, KeyPair]) -> None:
    for key in keys.values():
        signature = ssh_sign(key, PAYLOAD)
        verdict = make_verifier("").verify(PAYLOAD, signature, NOW)
        assert verdict.fingerprint == key.fingerprint()
        blob, _ = read_string(dearmor(signature), 10)
        assert base64.b64encode(blob).decode() == key.public.split()[1]
