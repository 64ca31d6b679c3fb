#!/usr/bin/env bash
# scripts/test.sh — the ONE command that runs netlab's whole test suite.
#
# On a fresh (Debian/Ubuntu) machine it first installs what the tests need,
# idempotently and quietly, then runs `cargo test --release` with any extra
# arguments passed through, e.g.:
#
#     scripts/test.sh                     # everything
#     scripts/test.sh --test cli          # one integration test file
#     scripts/test.sh -- --nocapture      # args after -- go to the test binary
#
# Exits with cargo's exit status.
set -Eeuo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

trap 'echo "scripts/test.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

section() { printf '\n==> %s\n' "$*"; }
info()    { printf '    %s\n' "$*"; }
warn()    { printf '    WARNING: %s\n' "$*" >&2; }

# ---------------------------------------------------------------------------
# privilege helper: run a command as root (directly, via sudo, or not at all)
# ---------------------------------------------------------------------------
if [[ $(id -u) -eq 0 ]]; then
    AS_ROOT=()
elif command -v sudo >/dev/null 2>&1; then
    AS_ROOT=(sudo)
else
    AS_ROOT=(none)
fi

# What could not be installed: the tests that need it then skip (see below).
MISSING=()

# ensure_apt PKG... — install missing Debian packages (apt-get update only when
# something is missing).  Without root/sudo or apt, print what is missing and
# continue: tests that need it will then fail or skip with their own message.
APT_UPDATED=0
ensure_apt() {
    local missing=() p
    for p in "$@"; do
        if command -v dpkg-query >/dev/null 2>&1; then
            dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
                || missing+=("$p")
        elif ! command -v "$p" >/dev/null 2>&1; then
            missing+=("$p")
        fi
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        info "already installed: $*"
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1 || [[ ${AS_ROOT[0]:-} == none ]]; then
        warn "missing packages: ${missing[*]} (no apt-get or no root/sudo) — install them manually"
        MISSING+=("${missing[@]}")
        return 0
    fi
    info "installing: ${missing[*]}"
    local log
    log=$(mktemp)
    # DPkg::Lock::Timeout: wait for a concurrently running apt/dpkg instead of failing
    local apt=("${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive
               apt-get -o DPkg::Lock::Timeout=900 -qq -y)
    if { [[ $APT_UPDATED -eq 1 ]] || "${apt[@]}" update >"$log" 2>&1; } \
        && APT_UPDATED=1 \
        && "${apt[@]}" install --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
        info "installed: ${missing[*]}"
    else
        cat "$log" >&2
        warn "could not install: ${missing[*]} — continuing"
        MISSING+=("${missing[@]}")
    fi
    rm -f "$log"
}

# stamp_of FILE... — content hash used to make the installers below idempotent
# (missing files are skipped)
stamp_of() {
    local f
    for f in "$@"; do
        if [[ -f $f ]]; then cat "$f"; fi
    done | sha256sum | cut -d' ' -f1
}

# ensure_venv [-r REQUIREMENTS]... [PKG...] — python venv at $ROOT/.venv with
# the given pip packages; re-installs only when the inputs change.  Puts
# .venv/bin first on PATH (so tests calling `python3` get the venv) and
# exports VIRTUAL_ENV.
ensure_venv() {
    local venv="$ROOT/.venv" reqs=() pkgs=() files=()
    while [[ $# -gt 0 ]]; do
        case $1 in
            -r) reqs+=(-r "$2"); files+=("$2"); shift 2 ;;
            *)  pkgs+=("$1"); shift ;;
        esac
    done
    command -v python3 >/dev/null 2>&1 || ensure_apt python3
    if [[ ! -x $venv/bin/python ]]; then
        if ! python3 -m venv "$venv" >/dev/null 2>&1; then
            rm -rf "$venv"
            ensure_apt python3-venv
            python3 -m venv "$venv"
        fi
        info "created $venv"
    fi
    local stamp
    stamp=$( { stamp_of "${files[@]}"; printf '%s\n' "${pkgs[@]}"; "$venv/bin/python" -V; } | sha256sum | cut -d' ' -f1)
    if [[ -f $venv/.netlab-stamp && $(cat "$venv/.netlab-stamp") == "$stamp" ]]; then
        info "venv up to date"
    else
        info "pip install ${reqs[*]} ${pkgs[*]}"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check "${reqs[@]}" "${pkgs[@]}"
        echo "$stamp" >"$venv/.netlab-stamp"
    fi
    export VIRTUAL_ENV="$venv"
    export PATH="$venv/bin:$PATH"
}

# ensure_npm DIR — node_modules for DIR/package.json (`npm ci` when a lockfile
# exists, else `npm install`); re-runs only when package*.json change.
ensure_npm() {
    local dir=$1
    command -v npm >/dev/null 2>&1 || ensure_apt nodejs npm
    if ! command -v npm >/dev/null 2>&1; then
        warn "npm not available — skipping $dir"
        MISSING+=("npm packages of $dir")
        return 0
    fi
    local stamp
    stamp=$(stamp_of "$dir/package.json" "$dir/package-lock.json")
    if [[ -d $dir/node_modules && -f $dir/node_modules/.netlab-stamp \
          && $(cat "$dir/node_modules/.netlab-stamp") == "$stamp" ]]; then
        info "$dir/node_modules up to date"
        return 0
    fi
    if [[ -f $dir/package-lock.json ]]; then
        info "npm ci in $dir"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    else
        info "npm install in $dir"
        (cd "$dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
    fi
    # recompute: `npm install` may just have written package-lock.json
    stamp_of "$dir/package.json" "$dir/package-lock.json" >"$dir/node_modules/.netlab-stamp"
}

# ---------------------------------------------------------------------------
section "System packages (apt)"
# tshark/tcpdump: reference dissectors the tests compare against;
# time: /usr/bin/time for resource measurements.
ensure_apt tshark tcpdump time iproute2 nftables util-linux python3 chromium
# >>> hook: add further Debian packages here, e.g. `ensure_apt jq`

# ---------------------------------------------------------------------------
section "Python test dependencies (.venv)"
# >>> hook: tests/requirements.txt -> .venv (created only when the file exists)
if [[ -f tests/requirements.txt ]]; then
    ensure_venv -r tests/requirements.txt
else
    info "no tests/requirements.txt — skipping"
fi

# ---------------------------------------------------------------------------
section "Node test dependencies (tests/node)"
# >>> hook: tests/node/package.json -> tests/node/node_modules
if [[ -f tests/node/package.json ]]; then
    ensure_npm tests/node
else
    info "no tests/node/package.json — skipping"
fi

# ---------------------------------------------------------------------------
section "Autobahn|Testsuite (Python 2.7 virtualenv, .venv-autobahn)"
# shellcheck source=scripts/autobahn-venv.sh
source "$ROOT/scripts/autobahn-venv.sh"
autobahn=0
ensure_autobahn_venv || autobahn=$?
if [[ $autobahn -eq 0 ]]; then
    info "ready: $VENV"
else
    warn "no Python 2.7 here: the Autobahn tests will be skipped"
    MISSING+=("Python 2.7 (Autobahn)")
fi

# ---------------------------------------------------------------------------
section "Rust toolchain"
if ! command -v cargo >/dev/null 2>&1 && [[ -f $HOME/.cargo/env ]]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi
if ! command -v cargo >/dev/null 2>&1; then
    warn "cargo not found: install Rust via rustup (https://rustup.rs); edition 2024 needs Rust >= 1.85"
    exit 127
fi
info "$(cargo --version)"

# ---------------------------------------------------------------------------
# Skips that must not pass silently: as root, a test that needs root fails instead of
# skipping (NETLAB_REQUIRE_ROOT=1); with every peer installed above, so does a test
# that needs a peer — node, Python websockets, Chromium, Autobahn (NETLAB_REQUIRE_PEERS=1).
# Either may be set by the caller already.
section "Requirements"
if [[ $(id -u) -eq 0 ]]; then
    export NETLAB_REQUIRE_ROOT=${NETLAB_REQUIRE_ROOT:-1}
fi
if [[ ${#MISSING[@]} -eq 0 ]]; then
    export NETLAB_REQUIRE_PEERS=${NETLAB_REQUIRE_PEERS:-1}
else
    warn "not installed: ${MISSING[*]} — the tests that need them skip"
fi
info "NETLAB_REQUIRE_ROOT=${NETLAB_REQUIRE_ROOT:-0} NETLAB_REQUIRE_PEERS=${NETLAB_REQUIRE_PEERS:-0}"

# ---------------------------------------------------------------------------
section "cargo test --release $*"
status=0
cargo test --release "$@" || status=$?

section "Result"
if [[ $status -eq 0 ]]; then
    info "PASS"
else
    info "FAIL (cargo exit status $status)"
fi
exit "$status"
