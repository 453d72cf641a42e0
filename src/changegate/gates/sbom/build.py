"""The resolved graph as a reproducible CycloneDX document, via cyclonedx-python-lib.

Reproducible means byte-identical output for the same input: bom-refs are purls (not random
ids), components and dependencies come out sorted (the library keeps them in sorted sets), the
timestamp is SOURCE_DATE_EPOCH or the head commit's time (never "now"), and the serialNumber is a
UUIDv5 of the document's own content: the document is serialized with an all-zero serial, hashed,
and the serial placeholder replaced by the UUID derived from that hash.
"""

from __future__ import annotations

import hashlib
import uuid
import warnings
from collections.abc import Iterable
from datetime import datetime
from importlib import metadata as importlib_metadata

from cyclonedx.model import (
    ExternalReference,
    ExternalReferenceType,
    HashAlgorithm,
    HashType,
    Property,
    XsUri,
)
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentScope, ComponentType
from cyclonedx.model.license import (
    DisjunctiveLicense,
    LicenseAcknowledgement,
    LicenseExpression,
)
from cyclonedx.output import make_outputter
from cyclonedx.schema import OutputFormat, SchemaVersion
from packageurl import PackageURL

from changegate import __version__
from changegate.gates.sbom.gitlab import component_properties
from changegate.gates.sbom.graph import Resolved
from changegate.gates.sbom.iri import is_iri_reference
from changegate.gates.sbom.model import DependencyKind, Hash, Licensing, Package, RootProject

# Fixed namespace for serial numbers: uuid5(NAMESPACE_URL, "https://changegate.dev/sbom").
SERIAL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://changegate.dev/sbom")
PLACEHOLDER_SERIAL = uuid.UUID(int=0)

_SCHEMA_VERSIONS = {"1.5": SchemaVersion.V1_5, "1.6": SchemaVersion.V1_6}
_FORMATS = {"json": OutputFormat.JSON, "xml": OutputFormat.XML}
_HASHES = {"md5": HashAlgorithm.MD5, "sha1": HashAlgorithm.SHA_1,
           "sha256": HashAlgorithm.SHA_256, "sha384": HashAlgorithm.SHA_384,
           "sha512": HashAlgorithm.SHA_512, "sha3_256": HashAlgorithm.SHA3_256,
           "sha3_384": HashAlgorithm.SHA3_384, "sha3_512": HashAlgorithm.SHA3_512,
           "blake2b": HashAlgorithm.BLAKE2B_512}
_SCOPES: dict[DependencyKind, ComponentScope] = {
    "required": ComponentScope.REQUIRED, "optional": ComponentScope.OPTIONAL,
    "dev": ComponentScope.EXCLUDED}


def build_document(resolved: Resolved, *, spec_version: str, fmt: str,
                   timestamp: datetime | None,
                   properties: Iterable[tuple[str, str]]) -> str:
    """Serialize the resolved graph; the result is the exact text to validate and write."""
    bom = Bom(serial_number=PLACEHOLDER_SERIAL)
    # The library defaults the timestamp to now; None leaves it out (reproducible).
    bom.metadata.timestamp = timestamp  # type: ignore[assignment]
    bom.metadata.tools.components.add(Component(
        type=ComponentType.APPLICATION, name="changegate", version=__version__,
        bom_ref=f"pkg:pypi/changegate@{__version__}",
        purl=PackageURL("pypi", name="changegate", version=__version__)))
    library_version = importlib_metadata.version("cyclonedx-python-lib")
    bom.metadata.tools.components.add(Component(
        type=ComponentType.LIBRARY, name="cyclonedx-python-lib", version=library_version,
        bom_ref=f"pkg:pypi/cyclonedx-python-lib@{library_version}",
        purl=PackageURL("pypi", name="cyclonedx-python-lib", version=library_version)))
    root = _root_component(resolved.root)
    bom.metadata.component = root
    bom.metadata.properties.update(Property(name=n, value=v) for n, v in properties)
    components: dict[str, Component] = {resolved.root.ref: root}
    for ref, package in resolved.packages.items():
        component = _component(package, resolved.scopes.get(ref))
        components[ref] = component
        bom.components.add(component)
    for ref, targets in resolved.edges.items():
        bom.register_dependency(components[ref], [components[t] for t in targets])
    outputter = make_outputter(bom, _FORMATS[fmt], _SCHEMA_VERSIONS[spec_version])
    with warnings.catch_warnings():
        # The library warns about things we decide deliberately (e.g. no timestamp).
        warnings.simplefilter("ignore")
        text = outputter.output_as_string(indent=2)
    return _with_content_serial(text if text.endswith("\n") else text + "\n")


def _with_content_serial(text: str) -> str:
    placeholder = PLACEHOLDER_SERIAL.urn
    if text.count(placeholder) != 1:
        raise RuntimeError("serialNumber placeholder not found exactly once in the document")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    serial = uuid.uuid5(SERIAL_NAMESPACE, digest)
    return text.replace(placeholder, serial.urn)


def _root_component(root: RootProject) -> Component:
    purl = None
    if not root.synthetic:
        purl = PackageURL("pypi", name=root.name, version=root.version)
    return Component(
        type=ComponentType.APPLICATION, name=root.name, version=root.version,
        bom_ref=purl.to_string() if purl else root.ref, purl=purl, description=root.description,
        licenses=_licenses(root.licenses))


def _component(package: Package, scope: DependencyKind | None) -> Component:
    purl = None
    if not package.local:
        purl = PackageURL("pypi", name=package.name, version=package.version,
                          qualifiers=dict(package.purl_qualifiers) or None,
                          subpath=package.purl_subpath)
    props = [*package.properties, *component_properties(scope)]
    return Component(
        type=ComponentType.LIBRARY, name=package.name, version=package.version,
        bom_ref=purl.to_string() if purl else package.ref, purl=purl,
        scope=_SCOPES[scope] if scope else ComponentScope.EXCLUDED,
        description=package.description,
        hashes=_hashes(package.hashes),
        licenses=_licenses(package.licenses),
        external_references=_references(package),
        properties=[Property(name=n, value=v) for n, v in props])


def _hashes(hashes: Iterable[Hash]) -> list[HashType]:
    return [HashType(alg=_HASHES[h.algorithm], content=h.value) for h in hashes]


def _licenses(info: Licensing) -> list[LicenseExpression] | list[DisjunctiveLicense]:
    declared = LicenseAcknowledgement.DECLARED
    if info.expression:
        return [LicenseExpression(info.expression, acknowledgement=declared)]
    return [*(DisjunctiveLicense(id=i, acknowledgement=declared) for i in info.ids),
            *(DisjunctiveLicense(name=n, acknowledgement=declared) for n in info.names)]


def _references(package: Package) -> list[ExternalReference]:
    """External references whose URL is a valid IRI-reference (after the library's escaping).

    A malformed Home-page in some package's metadata must not make the whole SBOM invalid;
    it is metadata about the package, not a fact the SBOM needs.
    """
    out = []
    for ref in package.external_refs:
        uri = XsUri(ref.url)
        if not is_iri_reference(str(uri)):
            continue
        out.append(ExternalReference(type=ExternalReferenceType(ref.type), url=uri,
                                     comment=ref.comment, hashes=_hashes(ref.hashes)))
    return out
