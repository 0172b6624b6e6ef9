#!/bin/bash
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages auditshim builds and tests with, if any
# are missing.  Sourced by tests/run-all.sh and tools/demo.sh.
AUDITSHIM_PKGS=(gcc libc6-dev meson ninja-build pkg-config libssl-dev
    libsqlite3-dev libinih-dev libpcre2-dev libcmocka-dev python3 sqlite3
    util-linux mount procps libcap2-bin
    git make strace libpython3.11-testsuite valgrind
    tzdata      # Europe/Berlin in the time-syntax tests and fuzz target
    nodejs      # test_differential runs a Node program under the shim
    chromium)   # renders the HTML report (tests/integration/test_render.py)

auditshim_install_deps() {
    local missing=() p sudo=
    for p in "${AUDITSHIM_PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
            missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null; then
            sudo=sudo
        else
            echo "auditshim: missing packages: ${missing[*]} (run as root or install them)" >&2
            return 2
        fi
    fi
    echo "auditshim: installing ${missing[*]}" >&2
    $sudo apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
            --no-install-recommends "${missing[@]}" >/dev/null
}

# Configures (or reconfigures) and builds DIR with any extra meson options.
auditshim_build() {
    local dir=$1
    shift
    local log
    log=$(mktemp)
    if [ -f "$dir/build.ninja" ]; then
        meson setup --reconfigure "$dir" "$@" >"$log" 2>&1
    else
        meson setup "$dir" "$@" >"$log" 2>&1
    fi && meson compile -C "$dir" >>"$log" 2>&1 || {
        # Quiet on success, the whole story on failure.
        cat "$log" >&2
        echo "auditshim: build of $dir failed" >&2
        rm -f "$log"
        return 1
    }
    rm -f "$log"
}
