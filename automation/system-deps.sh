#!/usr/bin/env bash
# Debian packages the build and the tests need, installed when missing (apt-get; sudo when not
# root): libclang-dev (the pg_query crate, PostgreSQL's parser for the plan linter, runs
# bindgen at build time) and sqlite3 (the scaffolded runner in tests/plugin_kit.rs drives it).
# Arguments COMMAND=PACKAGE add more: `just corpus` passes redis-server=redis-server (Nautobot's
# settings name a Redis cache; tests/corpus.rs starts a real one).
set -euo pipefail
need=""
ls /usr/lib/llvm-*/lib/libclang.so >/dev/null 2>&1 || ls /usr/lib/*/libclang*.so >/dev/null 2>&1 || need="$need libclang-dev"
command -v sqlite3 >/dev/null || need="$need sqlite3"
for extra in "$@"; do
    command -v "${extra%%=*}" >/dev/null || need="$need ${extra#*=}"
done
[ -z "$need" ] && exit 0
if ! command -v apt-get >/dev/null; then
    echo "error: missing$need; install them with your package manager (Debian/Ubuntu: apt-get install$need)" >&2
    exit 1
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
echo "installing$need ..." >&2
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need
