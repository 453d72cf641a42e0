"""A certificate transparency log that only issues SCTs (RFC 6962), for the local Fulcio.

Fulcio submits a precertificate to its CT log and embeds the returned Signed Certificate
Timestamp in the final certificate; verifiers check that SCT against the CT log key in the
trusted root. We build the SCT's `digitally-signed` structure byte for byte as RFC 6962 section
3.2 defines it, so sigstore-python's own SCT check is what accepts or rejects it.
"""

from __future__ import annotations

import struct
from datetime import datetime

from changegate.testing.sigstore.keys import KeyPair

_SCT_V1 = 0
_CERTIFICATE_TIMESTAMP = 0
_PRECERT_ENTRY = 1
_SHA256 = 4
_ECDSA = 3


def _u24(data: bytes) -> bytes:
    return struct.pack("!I", len(data))[1:] + data


def _u16(data: bytes) -> bytes:
    return struct.pack("!H", len(data)) + data


class CTLog:
    """Signs SCTs for precertificates with its own key."""

    def __init__(self, key: KeyPair) -> None:
        self.key = key

    def sct(self, tbs_precertificate: bytes, issuer_key_hash: bytes, when: datetime) -> bytes:
        """One serialized SCT for the precertificate whose TBS (without the SCT list) is given."""
        timestamp = int(when.timestamp() * 1000)
        extensions = b""
        signed = (struct.pack("!BBQH", _SCT_V1, _CERTIFICATE_TIMESTAMP, timestamp, _PRECERT_ENTRY)
                  + issuer_key_hash + _u24(tbs_precertificate) + _u16(extensions))
        signature = self.key.sign(signed)
        return (struct.pack("!B", _SCT_V1) + self.key.key_id + struct.pack("!Q", timestamp)
                + _u16(extensions) + struct.pack("!BB", _SHA256, _ECDSA) + _u16(signature))


def sct_list_extension_value(scts: list[bytes]) -> bytes:
    """The DER value of the embedded-SCT extension: an OCTET STRING holding the TLS list."""
    body = b"".join(_u16(sct) for sct in scts)
    tls = _u16(body)
    return _der_octet_string(tls)


def _der_octet_string(data: bytes) -> bytes:
    length = len(data)
    if length < 0x80:
        encoded = bytes([length])
    else:
        raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
        encoded = bytes([0x80 | len(raw)]) + raw
    return b"\x04" + encoded + data
