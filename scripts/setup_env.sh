#!/usr/bin/env bash
# Create (once) the project's virtual environment and install the project into it.
# Sourced by demo.sh and test.sh; SITING_VENV overrides the location (default .venv).
set -euo pipefail
VENV="${SITING_VENV:-.venv}"
# Installer and package-manager output goes here, not to the terminal; shown only when a step fails.
SETUP_LOG="${SITING_SETUP_LOG:-setup.log}"
: > "$SETUP_LOG"

# Run a set-up step with its output in the log; on failure print the log's tail and stop.
logged() {
    if ! "$@" >> "$SETUP_LOG" 2>&1; then
        tail -n 40 "$SETUP_LOG" >&2
        echo "安装失败，完整日志见 $SETUP_LOG / Set-up failed; full log in $SETUP_LOG" >&2
        return 1
    fi
}

# System packages: Debian chromium (headless browser tests of the offline maps),
# fonts-noto-cjk (Chinese labels in PNG/PDF figures), Pango (WeasyPrint's PDF reports) and
# postgresql (the shared audit log and user store, started by the tests themselves).
install_system_packages() {
    local missing=() pkg
    for pkg in chromium fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 postgresql; do
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
    logged "${sudo[@]}" apt-get update -qq
    logged "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
}
if command -v apt-get >/dev/null; then
    install_system_packages
fi
if [ ! -x "$VENV/bin/python" ]; then
    logged python3 -m venv "$VENV"
fi
echo "正在检查并安装依赖（日志：$SETUP_LOG）… / Installing dependencies (log: $SETUP_LOG)…" >&2
logged "$VENV/bin/python" -m pip install --disable-pip-version-check -e ".[test]"
# Byte-compile the project once: an editable install leaves it as sources, and where PYTHONDONTWRITEBYTECODE is
# set every `siting` start would compile them again (0.3-0.45 s of a batch's start-up).
logged "$VENV/bin/python" -m compileall -q spatial layers maps siting
