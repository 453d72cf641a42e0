"""GitHub web-flow keys: pinning, and real GitHub-signed commits verified in-process.

The three commits below are real: their payloads and signatures are GitHub REST API
`verification` objects quoted in public repositories (see data/SOURCE.md). Each test rebuilds
the commit object the way GitHub stored it and checks it hashes to the published commit id, so
what is verified is byte for byte GitHub's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from gpg_fixtures import GnuPG, split_commit, stop_agents

from changegate.errors import ChangegateError
from changegate.gates.verify_commits.openpgp import OpenPgpKeyring, OpenPgpVerifier
from changegate.gates.verify_commits.verdict import CommitStatus, Reason
from changegate.gates.verify_commits.webflow import (
    WEB_FLOW_FINGERPRINTS,
    check_pinned,
    is_github_committer,
    web_flow_keyring,
)

CURRENT = "968479A1AFF927E37D1A566BB5690EEEBB952194"  # B5690EEEBB952194, since 2024-01-16
PREVIOUS = "5DE3E0509C47EA3CF04A42D34AEE18F83AFDEB23"  # 4AEE18F83AFDEB23, expired 2024-01-16


@pytest.fixture(autouse=True, scope="module")
def _stop_gpg_agents() -> Iterator[None]:
    yield
    stop_agents()


@dataclass(frozen=True)
class GitHubCommit:
    sha: str
    payload: str
    signature: str
    key: str

    def raw(self) -> bytes:
        """The commit object: GitHub's gpgsig header ends with one empty continuation line."""
        head, _, message = self.payload.encode().partition(b"\n\n")
        lines = self.signature.encode().rstrip(b"\n").split(b"\n")
        gpgsig = b"gpgsig " + b"\n ".join(lines) + b"\n "
        return head + b"\n" + gpgsig + b"\n\n" + message


ETCD = GitHubCommit(  # github.com/etcd-io/etcd, a pull-request merge in 2021
    sha="57a489670474bffc47762372a6f54ca840285b41",
    payload="tree 7f103e4573a79f22dbcc21304ad22b50027ff0f1\n"
            "parent 40da254d687abfd3561f3cd9a0e3ef47afc5dadf\n"
            "parent 1b84b5e8dfd5fb0f29963d5e3f53a6f813619996\n"
            "author Gyuho Lee <leegyuho@amazon.com> 1625155950 -0700\n"
            "committer GitHub <noreply@github.com> 1625155950 -0700\n\n"
            "Merge pull request #13170 from gyuho/maintainers\n\n"
            'README: explain "MAINTAINERS"',
    signature="""-----BEGIN PGP SIGNATURE-----

wsBcBAABCAAQBQJg3eluCRBK7hj4Ov3rIwAA3XQIAF2zKc4W0JxNStWPrwWHcX+w
mnAP2h03DMD+LMQNAI2T0UBrLWQRDRwukSG2ci8XIlIPlZhOE4NaV3ibp88jHgfU
4XjBAUueaiLoImB2S+h4Db5IS2WU0Qlqjj5eQ8qPWjhi9f5dY1uqC6ODUTQfDsb3
FZObyUDrhGm1BmGPHnnMWhztzZH7eU+HqJmyiF2+/Bd7NZLVDNty3RU2cmtdo9Jf
GvAUtnF6+rEFpnv3F6wpEJ5OFWvEdf9w/oMYEpwcuh3mYBeothxG/8S8ztAQsvsO
P3dzDxiLhzepyznGbuNqQdaN1VISXtWDRFHFl0LH8VCIneer6QltJX1ddf+V+o8=
=IL2D
-----END PGP SIGNATURE-----
""",
    key=PREVIOUS)

BEFORE_EXPIRY = GitHubCommit(  # signed 2024-01-08, eight days before the old key expired
    sha="295415122835f1731fd9c5f7cd44e690259f14fa",
    payload="tree ac480da95ef625691b0544f5d0a406ff9640b1e5\n"
            "parent 2329f91e4d384c96307d268b7dc1e5769408d371\n"
            "parent ccdfbd4cd4a9c822ea156f91455e0cf03d5d73d4\n"
            "author cyberpanncake <97220506+cyberpanncake@users.noreply.github.com> "
            "1704738271 +0300\n"
            "committer GitHub <noreply@github.com> 1704738271 +0300\n\n"
            "Merge pull request #8 from cyberpanncake/project3\n\nfeat: project3",
    signature="""-----BEGIN PGP SIGNATURE-----

wsBcBAABCAAQBQJlnD3fCRBK7hj4Ov3rIwAAqtwIAEzF2OkHo2tTssFfCXskMz8V
K6ZcwtTxdduYF8VgbH1SJwdJhtkDHptDRuL7WEhpcINReUuLQq3Cn7stnGgFJjFp
+2RVKmTasPCg/Thg0+EC0GJV+mwZbkLkPQsB0pnWa1iieDBa17amOs1KJfTYg1nz
fjuuZwplpL4t+HAMNm9j/dppPDSMcjzvauYNe8h0ydLZ0DP+akMxb5d4tsGnpptw
kj0BV2Hxj9cjwIe16dpFPhoH/d+JOe7AJ+0pDGky9eXcrrquMOeHA0ktsjIOxxnB
4bxxF5aCEYRrTBx84VtRn6CQ1LiOIS7H3YUIgXh7Nd8IQiCn7TXtcWW1yhBCjNE=
=oJpW
-----END PGP SIGNATURE-----
""",
    key=PREVIOUS)

CURRENT_KEY = GitHubCommit(  # github.com/4acf/ascii-frag, a web UI edit in 2025
    sha="7c7c22495e96788bdb855b983fe84a4f58b1ca93",
    payload="tree 6392f4d78a8b7b1fc2a9b70ebbd5c814c52a733a\n"
            "parent aa7f2ea3e0c4f792c7037d6feb181bef3facfb57\n"
            "author 4acf <136143054+4acf@users.noreply.github.com> 1742101453 -0700\n"
            "committer GitHub <noreply@github.com> 1742101453 -0700\n\n"
            "ascii.frag formatting",
    signature="""-----BEGIN PGP SIGNATURE-----

wsFcBAABCAAQBQJn1lvNCRC1aQ7uu5UhlAAAa9UQADAfXxcutqQh+ByB2O3qsECl
AZ/CC2LDQhSNaesRHx67HxZO3XbVPCsyvFTMnNNrM1+CF06qWjTWC2pXe37kaWs+
J2b4RXr+4MjKHgyVoe7o26Tv81gKA0iPYBRYMRP5uTyzfuTfjUb7ACxnCIPbllsB
S/xW4c3YNOaHX/CPOVKeaOOmYy1qyX8j1LlESk8dhPoR9GkdLm2cNIYO0mTWxhQS
QwSmOtwKC80pHODcOyJ+T7iKPvRkV8VPI3FrmCkEtx3muCJg5yOUFnZ4Fiao5t//
1brDdUmERCxH0UTFLGRjcVnfbO1ZyYgB99W77M52EuCXTQwTTnPt5zvSOBw+XqX/
r35ulhgxKCKD+LDjbCP8GGgCOmt2nqKiR2VTPumOqcnuGhIYxKs8JnpMMbCmiWii
YNwXbWGc/ETMlQiySBw0kQ6oGLj2gp5OI3f8Kia+ZA8driiNeNtq99UOrOY4aySW
12XNB574PmlO3By6JdYH/W7IWtRuiVIX/A0YGWiMqqvuUqK4orF9s46DWmX9jaLg
Mst/90D9cv7Ms3pXgaMpFvULz5Kvof/cSQZ9suEbcZ8SRZBDM4qtUx+9mqfjswyf
68KarY7J2hRF7sOn+TncXCp6ibJWPHYslG9f8vSqNZVWtx7MI5NEcO2F0ulrjW06
+rQ6daSOKGxXrLrdkV1T
=YZPG
-----END PGP SIGNATURE-----
""",
    key=CURRENT)

COMMITS = [ETCD, BEFORE_EXPIRY, CURRENT_KEY]


def test_keyring_holds_exactly_the_pinned_keys() -> None:
    keyring = web_flow_keyring()
    assert set(keyring.fingerprints) == set(WEB_FLOW_FINGERPRINTS) == {CURRENT, PREVIOUS}
    for fpr in (CURRENT, PREVIOUS):
        cert = keyring.get(fpr)
        assert cert is not None and cert.identities == ("noreply@github.com",)


def test_pinning_mismatch_is_a_hard_error(tmp_path: Path) -> None:
    gpg = GnuPG(tmp_path / "home")
    impostor = gpg.gen_key("GitHub <noreply@github.com>")
    with pytest.raises(ChangegateError) as caught:
        check_pinned(OpenPgpKeyring.from_bytes(gpg.export(impostor)), WEB_FLOW_FINGERPRINTS)
    assert caught.value.rule == "WEB_FLOW_KEYS_INVALID"
    assert impostor.upper() in caught.value.message and CURRENT in caught.value.message
    check_pinned(web_flow_keyring(), WEB_FLOW_FINGERPRINTS)  # the real file passes


@pytest.mark.parametrize("commit", COMMITS, ids=lambda c: c.sha[:8])
def test_real_web_flow_commits_verify(commit: GitHubCommit) -> None:
    raw = commit.raw()
    assert hashlib.sha1(b"commit %d\0" % len(raw) + raw).hexdigest() == commit.sha  # noqa: S324
    payload, signature, committed = split_commit(raw)
    assert signature is not None and payload == commit.payload.encode()
    verdict = OpenPgpVerifier(
            web_flow_keyring(), key_validity="signing-time").verify(payload, signature, committed)
    assert (verdict.status, verdict.reason) == (CommitStatus.VERIFIED, Reason.OK), verdict.detail
    assert verdict.fingerprint == commit.key
    assert verdict.signer == "noreply@github.com"
    # GitHub writes non-canonical RSA MPIs, which Sequoia alone would refuse to parse.
    assert "normalized" in verdict.detail


def test_old_key_signatures_from_before_its_expiry_stay_valid() -> None:
    """The old key is expired today; judged at signing time, its signatures still count."""
    cert = web_flow_keyring().get(PREVIOUS)
    assert cert is not None and cert.cert.expiration is not None
    assert cert.cert.expiration.year == 2024
    payload, signature, committed = split_commit(BEFORE_EXPIRY.raw())
    assert signature is not None
    verdict = OpenPgpVerifier(
            web_flow_keyring(), key_validity="signing-time").verify(payload, signature, committed)
    assert verdict.status is CommitStatus.VERIFIED


@pytest.mark.parametrize("commit", COMMITS, ids=lambda c: c.sha[:8])
def test_tampered_web_flow_commit_fails(commit: GitHubCommit) -> None:
    payload, signature, committed = split_commit(commit.raw())
    assert signature is not None
    tampered = payload.replace(b"committer GitHub", b"committer GitHuB")
    verdict = OpenPgpVerifier(
            web_flow_keyring(), key_validity="signing-time").verify(tampered, signature, committed)
    assert (verdict.status, verdict.reason) == (CommitStatus.INVALID, Reason.BAD_SIGNATURE)


def test_web_flow_signature_is_unknown_to_a_team_keyring(tmp_path: Path) -> None:
    gpg = GnuPG(tmp_path / "home")
    team = OpenPgpKeyring.from_bytes(gpg.export(gpg.gen_key("Dev <dev@example.com>")))
    payload, signature, committed = split_commit(CURRENT_KEY.raw())
    assert signature is not None
    verdict = OpenPgpVerifier(team).verify(payload, signature, committed)
    assert verdict.reason is Reason.UNKNOWN_KEY
    assert "B5690EEEBB952194" in verdict.detail


def test_impostor_with_githubs_user_id_is_unknown(tmp_path: Path) -> None:
    """Anyone can make a key named `GitHub <noreply@github.com>`; only the pinned keys count."""
    gpg = GnuPG(tmp_path / "home")
    impostor = gpg.gen_key("GitHub <noreply@github.com>")
    payload = CURRENT_KEY.payload.encode()
    verifier = OpenPgpVerifier(web_flow_keyring(), key_validity="signing-time")
    verdict = verifier.verify(payload, gpg.sign(payload, impostor),
                              split_commit(CURRENT_KEY.raw())[2])
    assert (verdict.status, verdict.reason) == (CommitStatus.UNTRUSTED, Reason.UNKNOWN_KEY)


@pytest.mark.parametrize(("name", "email", "expected"), [
    ("GitHub", "noreply@github.com", True),
    ("GitHub", "NoReply@GitHub.com", True),
    (" GitHub ", "noreply@github.com ", True),
    ("github", "noreply@github.com", False),
    ("GitHub", "web-flow@github.com", False),
    ("GitHub Enterprise", "noreply@github.com", False),
    ("Dev", "dev@example.com", False),
])
def test_is_github_committer(name: str, email: str, expected: bool) -> None:
    assert is_github_committer(name, email) is expected
