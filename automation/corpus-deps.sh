#!/usr/bin/env bash
# What the large-app corpus (`just corpus`, tests/corpus.rs) needs besides `just test`'s:
# redis-server (Nautobot's settings name a Redis cache; the test starts a real one), installed
# when missing (apt-get; sudo when not root).
set -euo pipefail
command -v redis-server >/dev/null && exit 0
if ! command -v apt-get >/dev/null; then
    echo "error: missing redis-server; install it with your package manager (Debian/Ubuntu: apt-get install redis-server)" >&2
    exit 1
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
echo "installing redis-server ..." >&2
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server
