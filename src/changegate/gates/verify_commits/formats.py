"""Which signature format a commit's `gpgsig` header holds, from its armor line.

git itself picks the verifier by the signature's first line (gpg-interface.c); we do the same so
a commit is routed to the same kind of check git would run, and an unknown format is reported
as such rather than guessed at.
"""

from __future__ import annotations

from changegate.gates.verify_commits.verdict import SignatureFormat

#: Armor headers, in the order git checks them. `PGP MESSAGE` is what some older OpenPGP
#: implementations used for detached signatures; git accepts it as OpenPGP too.
ARMOR_HEADERS: tuple[tuple[bytes, SignatureFormat], ...] = (
    (b"-----BEGIN PGP SIGNATURE-----", SignatureFormat.OPENPGP),
    (b"-----BEGIN PGP MESSAGE-----", SignatureFormat.OPENPGP),
    (b"-----BEGIN SIGNED MESSAGE-----", SignatureFormat.X509),
    (b"-----BEGIN SSH SIGNATURE-----", SignatureFormat.SSH),
)


def detect_format(signature: bytes) -> SignatureFormat | None:
    """The format named by the signature's armor header, or None when it names none we know.

    Leading whitespace is tolerated (git would not), because recognising more signatures only
    means more of them get verified; nothing is accepted on the strength of this header alone.
    """
    head = signature.lstrip()
    for marker, fmt in ARMOR_HEADERS:
        if head.startswith(marker):
            return fmt
    return None
