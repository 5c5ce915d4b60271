#!/usr/bin/env bash
# Make sure Debian's chromium is there for the browser tests (tests/e2e).
#
#   /usr/bin/chromium present        -> nothing to do
#   missing, root and apt-get found  -> apt-get install chromium (Debian's package)
#   otherwise                        -> a loud warning; the browser tests then skip,
#                                       or fail when CI=true (see tests/e2e/conftest.py)
#
# Never runs `playwright install`: the tests drive Debian's chromium through the pip
# `playwright` package with executable_path=/usr/bin/chromium.
# Always exits 0: a missing browser is reported by the tests themselves.
set -uo pipefail

CHROMIUM=/usr/bin/chromium

warn() {
    {
        echo
        echo "################################################################################"
        echo "#  WARNING: $1"
        echo "#  The browser tests in tests/e2e will be SKIPPED (and FAIL when CI=true)."
        echo "#  Install Debian's chromium as root:  apt-get update && apt-get install chromium"
        echo "################################################################################"
        echo
    } >&2
}

if [ -x "$CHROMIUM" ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-chromium: $CHROMIUM is missing; installing Debian's chromium with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    if apt-get update -q </dev/null \
        && apt-get install -y -q --no-install-recommends chromium fonts-liberation </dev/null; then
        if [ -x "$CHROMIUM" ]; then
            exit 0
        fi
        warn "apt-get installed chromium but $CHROMIUM is still missing."
    else
        warn "apt-get could not install chromium."
    fi
    exit 0
fi

warn "$CHROMIUM is missing and this script cannot install it (needs root and apt-get)."
exit 0
