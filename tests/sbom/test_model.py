"""The model's purls (bom-refs) agree with packageurl-python, the library the SBOM uses."""

from __future__ import annotations

import pytest
from packageurl import PackageURL

from changegate.gates.sbom.model import canonical_name, package_url


@pytest.mark.parametrize(("name", "version", "qualifiers", "subpath"), [
    ("requests", "2.31.0", (), None),
    ("Typing_Extensions", "4.0", (), None),
    ("zope.interface", "6.0", (), None),
    ("pkg", "1.0+local.1", (), None),
    ("pkg", None, (), None),
    ("pkg", "1.0", (("vcs_url", "git+https://github.com/a/b@0123abc"),), None),
    ("pkg", "1.0", (("repository_url", "https://repo.example/simple"),
                    ("download_url", "https://x.example/pkg-1.0.tar.gz")), "sub/dir"),
])
def test_package_url_matches_packageurl(name: str, version: str | None,
                                        qualifiers: tuple[tuple[str, str], ...],
                                        subpath: str | None) -> None:
    expected = PackageURL("pypi", name=name, version=version, qualifiers=dict(qualifiers) or None,
                          subpath=subpath).to_string()
    assert package_url(name, version, qualifiers, subpath, local=False) == expected


def test_local_packages_get_a_distinct_ref() -> None:
    assert package_url("x", "1", (), None, local=True) == "pkg:pypi/x@1?changegate_local=true"


def test_canonical_name() -> None:
    assert canonical_name("Foo.Bar__baz") == "foo-bar-baz"
