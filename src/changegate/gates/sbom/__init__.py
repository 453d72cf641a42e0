"""The sbom gate: a validated, reproducible CycloneDX SBOM of a Python project, and its policy.

Layout (each module small, each axis of variation its own module):
- `readers/`: one reader per source (environment, pylock.toml, uv.lock, poetry.lock,
  Pipfile.lock, requirements.txt, pyproject.toml) into the shared `model`;
- `graph`: edges, extras, reachability and scope from the root;
- `build`: the CycloneDX document (cyclonedx-python-lib), reproducible;
- `validate` (+ `iri`): schema validation of the exact bytes to be written;
- `checks` (+ `config`, `licenses`, `rules`): the policy;
- `gitlab`: the properties GitLab needs to ingest the SBOM;
- `gate`: the orchestration.

Kept import-free: the audit gate imports `changegate.gates.sbom.readers` and must not pay for
cyclonedx-python-lib or jsonschema.
"""
