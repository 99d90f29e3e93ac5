#!/usr/bin/env bash
# Create (once) the project's virtual environment and install the project into it.
# Sourced by demo.sh and test.sh; SITING_VENV overrides the location (default .venv).
set -euo pipefail
VENV="${SITING_VENV:-.venv}"

# System packages: Debian chromium (headless browser tests of the offline maps),
# fonts-noto-cjk (Chinese labels in PNG/PDF figures) and Pango (WeasyPrint's PDF reports).
install_system_packages() {
    local missing=() pkg
    for pkg in chromium fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            echo "缺少系统软件包：${missing[*]}。请以 root 运行：apt-get install -y ${missing[*]}" >&2
            echo "Missing system packages: ${missing[*]}. As root run: apt-get install -y ${missing[*]}" >&2
            return 0
        fi
    fi
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
}
if command -v apt-get >/dev/null; then
    install_system_packages
fi
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[test]"
