# Sourced by scripts/autobahn.sh and scripts/autobahn-client.sh: finds a Python 2.7 and
# makes the virtualenv with autobahntestsuite (.venv-autobahn), under a lock, since the
# test suite runs both scripts at once. Sets VENV; returns 77 when there is no Python 2.7.
VENV=$ROOT/.venv-autobahn

ensure_autobahn_venv() {
    mkdir -p "$ROOT/target"
    exec 9>"$ROOT/target/.venv-autobahn.lock"
    flock 9
    if [[ ! -x $VENV/bin/wstest ]]; then
        local py27="" c
        for c in "$HOME"/.pyenv/versions/2.7*/bin/python /usr/bin/python2.7 python2.7; do
            # A pyenv shim may exist without a usable interpreter behind it: try it.
            if command -v "$c" >/dev/null 2>&1 \
                && "$c" -c 'import sys; assert sys.version_info[:2] == (2, 7)' 2>/dev/null; then
                py27=$(command -v "$c")
                break
            fi
        done
        if [[ -z $py27 ]]; then
            exec 9>&-
            return 77
        fi
        echo "autobahn: creating $VENV with $py27 (virtualenv<20.22, the last that makes 2.7 environments)"
        rm -rf "$VENV"
        python3 -m venv "$ROOT/target/virtualenv-tool"
        "$ROOT/target/virtualenv-tool/bin/pip" install -q 'virtualenv<20.22'
        "$ROOT/target/virtualenv-tool/bin/virtualenv" -q -p "$py27" "$VENV"
        "$VENV/bin/pip" install -q autobahntestsuite
    fi
    exec 9>&-
}
