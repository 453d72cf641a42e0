"""Where the vendored CycloneDX (and SPDX) schemas live inside the installed package.

Found relative to this file rather than through the installed cyclonedx-python-lib, whose copy
is internal to it: the schemas an SBOM is validated against are pinned by changegate's release
(see src/changegate/schemas/cyclonedx/README.md for their origin and digests).
"""

from __future__ import annotations

from pathlib import Path

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "cyclonedx"

SPEC_VERSIONS = ("1.5", "1.6")
DEFAULT_SPEC_VERSION = "1.6"


def schema_path(name: str) -> Path:
    """A vendored schema file by name, e.g. `bom-1.6.SNAPSHOT.schema.json`."""
    return SCHEMA_DIR / name


def bom_schema(spec_version: str, fmt: str) -> Path:
    """The CycloneDX BOM schema for a spec version and format (`json` or `xml`)."""
    suffix = "schema.json" if fmt == "json" else "xsd"
    return schema_path(f"bom-{spec_version}.SNAPSHOT.{suffix}")
