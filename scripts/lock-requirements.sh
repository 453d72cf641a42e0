#!/usr/bin/env bash
# Regenerate the hash-locked requirements the GitHub actions and GitLab templates install:
#
#   requirements/action.txt     changegate's runtime dependencies (requirements/action.in)
#   requirements/bootstrap.txt  the pinned uv the installer uses to install action.txt fast
#
# Both are universal locks (one file for Python 3.10-3.13 on every platform PyPI serves
# wheels for; the installer targets Linux x86_64 and aarch64) with a sha256 for every wheel,
# resolved from PyPI only and restricted to wheels, so installing never runs a build step.
#
# Usage: scripts/lock-requirements.sh [--upgrade]
#   UV_BOOTSTRAP_VERSION=0.13.9  the uv version to pin in bootstrap.txt
#   UV="python3 -m uv"           how to run uv here (any recent uv resolves the same lock)
set -euo pipefail

root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cd -- "$root"

uv_version="${UV_BOOTSTRAP_VERSION:-0.13.9}"
if [[ ! "$uv_version" =~ ^[0-9]+(\.[0-9]+)*$ ]]; then
  echo "lock-requirements: UV_BOOTSTRAP_VERSION must be a plain version, got '$uv_version'" >&2
  exit 2
fi

# uv: an explicit $UV (split on spaces on purpose: "python3 -m uv"), else uv on PATH, else the
# uv module of python3.
if [[ -n "${UV:-}" ]]; then
  read -r -a uv_cmd <<<"$UV"
elif command -v uv >/dev/null 2>&1; then
  uv_cmd=(uv)
else
  uv_cmd=(python3 -m uv)
fi

extra=()
if [[ "${1:-}" == "--upgrade" ]]; then
  extra+=(--upgrade)
elif [[ $# -gt 0 ]]; then
  echo "usage: scripts/lock-requirements.sh [--upgrade]" >&2
  exit 2
fi

# Only wheels are locked, so nothing is built and no interpreter of the target version is needed:
# never let uv try to download one.
export UV_PYTHON_DOWNLOADS=never

common=(
  pip compile
  --universal
  --python-version 3.10
  --generate-hashes
  --only-binary :all:
  --index-url https://pypi.org/simple
  --no-config
  --quiet
  --custom-compile-command "scripts/lock-requirements.sh"
)

"${uv_cmd[@]}" "${common[@]}" "${extra[@]}" \
  --output-file requirements/action.txt requirements/action.in
"${uv_cmd[@]}" "${common[@]}" "${extra[@]}" \
  --output-file requirements/build.txt requirements/build.in

tmp="$(mktemp -d)"
trap 'rm -rf -- "$tmp"' EXIT
printf 'uv==%s\n' "$uv_version" >"$tmp/bootstrap.in"
"${uv_cmd[@]}" "${common[@]}" --no-annotate \
  --output-file "$tmp/bootstrap.txt" "$tmp/bootstrap.in"
# The temporary input's path means nothing to a reader: say where the pin comes from instead.
sed -e "s|$tmp/bootstrap.in|UV_BOOTSTRAP_VERSION in scripts/lock-requirements.sh|g" \
  "$tmp/bootstrap.txt" >requirements/bootstrap.txt

echo "lock-requirements: wrote requirements/action.txt and requirements/bootstrap.txt" >&2
