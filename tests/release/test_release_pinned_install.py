"""An action checked out at a commit installs exactly its lock, with no network but the index.

What `uses: org/changegate/actions/<gate>@<sha>` does on a runner: check out that commit, run
the action's install step, which runs that commit's scripts/install-action.sh on that commit's
requirements/. Here the checkout is a clone of a commit of this tree, and the installer runs in
a new network namespace where the only way out is an HTTPS proxy that forwards to the package
index (pypi.org, files.pythonhosted.org) and refuses anything else. Uses the package index
(through uv's and pip's caches, shared with the other CI tests).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from releasehelpers import INDEX_HOSTS, IndexOnlyProxy, run, run_without_network, unshare_net

pytestmark = pytest.mark.slow  # installs from the package index (hash-checked)

# Run inside the installed venv: every locked requirement that applies to this interpreter,
# and every distribution installed, as {name: version}.
COMPARE = """\
import importlib.metadata as md, json, re, sys
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
def locked(path):
    text = open(path, encoding="utf-8").read().replace("\\\\\\n", " ")
    pins = {}
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        requirement = Requirement(line.split(" --hash=")[0].strip())
        if requirement.marker is None or requirement.marker.evaluate():
            (spec,) = requirement.specifier
            pins[canonicalize_name(requirement.name)] = spec.version
    return pins
want = {**locked(sys.argv[1]), **locked(sys.argv[2])}
have = {canonicalize_name(d.metadata["Name"]): d.version for d in md.distributions()}
print(json.dumps({"want": want, "have": have}))
"""


def test_an_action_checked_out_at_a_commit_installs_exactly_the_locked_versions(
        tmp_path: Path, release_repo: tuple[Path, str], release_env: dict[str, str]) -> None:
    unshare_net()  # skips (fails in CI) where no network namespace can be made
    source, sha = release_repo
    # What the runner does for `uses: org/changegate/actions/sbom@<sha>`.
    checkout = tmp_path / "_actions" / "org" / "changegate" / sha
    run(["git", "clone", "-q", "--no-checkout", source, checkout], env=release_env)
    run(["git", "-C", checkout, "-c", "advice.detachedHead=false", "checkout", "-q",
         "--detach", sha], env=release_env)
    assert run(["git", "-C", checkout, "rev-parse", "HEAD"]).stdout.strip() == sha

    venv = tmp_path / "venv"
    env = {**release_env, "CHANGEGATE_VENV": str(venv),
           # A runner has no pip configuration: no local wheel directories, no mirrors.
           "PIP_CONFIG_FILE": os.devnull}
    env = {k: v for k, v in env.items() if not k.startswith(("PIP_FIND_LINKS", "PIP_EXTRA",
                                                               "PIP_INDEX", "UV_INDEX",
                                                               "UV_EXTRA", "UV_DEFAULT"))}
    with IndexOnlyProxy(tmp_path / "proxy.sock") as proxy:
        proc = run_without_network(["bash", checkout / "scripts" / "install-action.sh"], proxy,
                                   cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    python = proc.stdout.strip().splitlines()[-1]
    assert python == str(venv / "bin" / "python")

    # No network besides the package index: every connection asked for went there.
    hosts = {host for _, host in proxy.requests}
    assert hosts <= INDEX_HOSTS, hosts
    assert {method for method, _ in proxy.requests} <= {"CONNECT"}

    # Exactly the locked versions (plus uv from bootstrap.txt, also locked), nothing else.
    compare = tmp_path / "compare.py"
    compare.write_text(COMPARE, encoding="utf-8")
    facts = json.loads(run([python, "-I", compare, checkout / "requirements" / "action.txt",
                            checkout / "requirements" / "bootstrap.txt"]).stdout)
    assert facts["have"] == facts["want"]

    # And the code is the commit's own: imported from the checkout's src/, nothing built.
    found = run([python, "-I", "-c", "import changegate, os; "
                 "print(os.path.realpath(changegate.__file__))"], cwd=tmp_path).stdout.strip()
    assert found == str((checkout / "src" / "changegate" / "__init__.py").resolve())
