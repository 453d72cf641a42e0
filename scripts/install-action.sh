#!/usr/bin/env bash
# Install changegate into an isolated virtualenv, for the GitHub actions and GitLab templates.
#
# What runs is exactly this checkout's code and the hash-locked dependencies beside it:
#   1. a virtualenv from the runner's Python (CHANGEGATE_PYTHON, default python3), no pip in it;
#   2. uv, pinned with hashes (requirements/bootstrap.txt), installed into it by pip with
#      --require-hashes (the runner's pip when it is recent enough, else the venv's own ensurepip);
#   3. the runtime dependencies (requirements/action.txt) with `uv pip install --require-hashes`,
#      wheels only; with pip (same flags) if uv cannot run on this platform;
#   4. this checkout's src/ made importable through a .pth file: no build step, no wheel, so a
#      SHA-pinned action runs its own commit's code and nothing else.
#
# Environment (all optional):
#   CHANGEGATE_PYTHON   interpreter to build the venv from (command name or path), >= 3.10
#   CHANGEGATE_VENV     where to put the venv; default: $RUNNER_TEMP/changegate-venv on GitHub,
#                       a new temporary directory elsewhere. An existing venv made by this script
#                       from the same lock, Python and source is reused; any other directory that
#                       is not empty is refused, never deleted.
#   CHANGEGATE_SOURCE   the changegate source tree (default: the parent of this script's folder)
#   CHANGEGATE_NO_UV    "true" to install with pip only
#   UV_CACHE_DIR, UV_DEFAULT_INDEX, PIP_INDEX_URL, ...  honoured as usual (a mirror cannot change
#                       what is installed: every file is checked against the lock's hashes)
#
# Prints the venv's Python (absolute path) as the last line on stdout; progress goes to stderr.
# Exit status 2 when the installation cannot be done (the gates' "inconclusive").
set -euo pipefail

log() { printf 'changegate-install: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  if [[ "${GITHUB_ACTIONS:-}" == "true" ]]; then
    # One line, workflow-command escaped, so the failure shows as an annotation.
    local msg="changegate could not be installed: $*"
    msg="${msg//'%'/'%25'}"
    msg="${msg//$'\r'/'%0D'}"
    msg="${msg//$'\n'/'%0A'}"
    printf '::error title=changegate install::%s\n' "$msg"
  fi
  exit 2
}

# Anything that fails without a message of its own is still "could not install": exit 2.
trap 'die "unexpected failure (line $LINENO)"' ERR

here="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
source_dir="${CHANGEGATE_SOURCE:-$here/..}"
[[ -d "$source_dir" ]] || die "CHANGEGATE_SOURCE is not a directory: $source_dir"
source_dir="$(cd -- "$source_dir" && pwd -P)"
case "$source_dir" in
  *$'\n'* | *$'\r'*) die "the source path contains a line break" ;;
esac
src="$source_dir/src"
bootstrap="$source_dir/requirements/bootstrap.txt"
lock="$source_dir/requirements/action.txt"
[[ -f "$src/changegate/__init__.py" ]] || die "no changegate package under $src"
[[ -f "$bootstrap" && -f "$lock" ]] || die "missing requirements/bootstrap.txt or requirements/action.txt in $source_dir"

python="${CHANGEGATE_PYTHON:-python3}"
[[ -n "$python" ]] || python=python3
command -v -- "$python" >/dev/null 2>&1 || die "Python interpreter not found: $python (set the python input)"
py_version="$("$python" -I -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null || true)"
if [[ ! "$py_version" =~ ^3\.([0-9]+)\.[0-9]+$ ]] || ((BASH_REMATCH[1] < 10)); then
  die "$python is not Python 3.10 or newer (it says '${py_version:-nothing}'); set the python input"
fi
py_path="$(command -v -- "$python")"

if [[ -n "${CHANGEGATE_VENV:-}" ]]; then
  venv="$CHANGEGATE_VENV"
elif [[ "${GITHUB_ACTIONS:-}" == "true" && -n "${RUNNER_TEMP:-}" ]]; then
  venv="$RUNNER_TEMP/changegate-venv"
else
  venv="$(mktemp -d "${TMPDIR:-/tmp}/changegate-venv.XXXXXXXX")"
fi
case "$venv" in
  /*) ;;
  *) venv="$PWD/$venv" ;;
esac

hash_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum; else shasum -a 256; fi | cut -d' ' -f1
}
key="$({
  printf 'python=%s %s\nsource=%s\n' "$py_path" "$py_version" "$source_dir"
  cat -- "$bootstrap" "$lock"
} | hash_of)"
marker="$venv/.changegate-install"
venv_py="$venv/bin/python"

# Everything below runs from the trusted source tree, never from the repository being gated, so
# no uv.toml, pip.conf or Python package in that checkout can take part in the installation.
cd -- "$source_dir"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_ROOT_USER_ACTION=ignore
export UV_PYTHON_DOWNLOADS=never
if [[ -z "${UV_DEFAULT_INDEX:-}${UV_INDEX_URL:-}" && -n "${PIP_INDEX_URL:-}" ]]; then
  export UV_DEFAULT_INDEX="$PIP_INDEX_URL"
fi

start=$SECONDS
if [[ -f "$marker" && "$(cat -- "$marker")" == "$key" && -x "$venv_py" ]]; then
  log "reusing $venv (same lock, Python and source)"
else
  if [[ -e "$venv" ]]; then
    if [[ -f "$marker" ]]; then
      rm -rf -- "$venv"
    elif [[ -d "$venv" && -z "$(ls -A -- "$venv")" ]]; then
      rmdir -- "$venv"
    else
      die "$venv exists and was not made by this installer; refusing to touch it"
    fi
  fi
  log "creating a virtualenv in $venv with $py_path ($py_version)"
  "$python" -I -m venv --without-pip -- "$venv" >&2 || die "could not create a virtualenv with $python"

  # A pip that installs into the venv: the runner's own (pip >= 22.3 has --python), else the
  # venv's ensurepip.
  if "$python" -I -m pip --python "$venv_py" --version >/dev/null 2>&1; then
    pip_cmd=("$python" -I -m pip --python "$venv_py")
  else
    "$venv_py" -I -m ensurepip --default-pip >&2 \
      || die "$python has neither a recent pip nor ensurepip (Debian: apt-get install python3-venv)"
    pip_cmd=("$venv_py" -I -m pip)
  fi
  pip_install=("${pip_cmd[@]}" install --quiet --require-hashes --only-binary :all:)

  installed=""
  if [[ "${CHANGEGATE_NO_UV:-}" != "true" ]]; then
    if "${pip_install[@]}" --no-deps -r "$bootstrap" >&2 && [[ -x "$venv/bin/uv" ]]; then
      if "$venv/bin/uv" pip install --no-config --quiet --python "$venv_py" \
        --require-hashes --only-binary :all: -r "$lock" >&2; then
        installed="uv"
      else
        log "uv could not install the lock; falling back to pip"
      fi
    else
      log "uv is not available for this platform; falling back to pip"
    fi
  fi
  if [[ -z "$installed" ]]; then
    "${pip_install[@]}" -r "$lock" >&2 || die "pip could not install requirements/action.txt"
    installed="pip"
  fi
  printf '%s\n' "$key" >"$marker"
  log "installed the locked dependencies with $installed in $((SECONDS - start))s"
fi

purelib="$("$venv_py" -I -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
printf '%s\n' "$src" >"$purelib/changegate_action.pth"

# The package must come from this source tree, not from anything else on the path.
found="$("$venv_py" -I -c 'import changegate, os; print(os.path.realpath(changegate.__file__))')" \
  || die "changegate does not import in $venv"
[[ "$found" == "$src/changegate/__init__.py" ]] || die "changegate imports from $found, expected $src"

printf '%s\n' "$venv_py"
