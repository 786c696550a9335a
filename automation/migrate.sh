#!/usr/bin/env bash
# Seed-compatible entry point: ./automation/migrate.sh --env dev [--show|--make|--rollback ...]
# Runs platform-migrate with the same flags. Uses $PLATFORM_MIGRATE_BIN when set, else the
# release build of this checkout, else platform-migrate from PATH.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="${PLATFORM_MIGRATE_BIN:-}"
if [[ -z "$bin" ]]; then
  if [[ -x "$here/../target/release/platform-migrate" ]]; then
    bin="$here/../target/release/platform-migrate"
  else
    bin="platform-migrate"
  fi
fi
exec "$bin" "$@"
