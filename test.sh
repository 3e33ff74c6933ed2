#!/usr/bin/env bash
# Runs every LlmStack test, from app-model tests to the browser tests. Installs what the tests need and
# the machine lacks (Debian's Chromium for Playwright: browser downloads are not possible offline).
# Extra arguments go to `dotnet test` (e.g. --filter "FullyQualifiedName~Api").
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -x /usr/bin/chromium ]; then
  echo "test.sh: installing Debian's chromium for the browser tests" >&2
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

results=TestResults
rm -rf "$results"
status=0
dotnet test LlmStack.sln --results-directory "$results" --logger "trx;LogFileName=tests.trx" "$@" || status=$?

# One plain summary line, the same whatever the runner prints.
trx=$(find "$results" -name '*.trx' -print -quit 2>/dev/null || true)
if [ -n "$trx" ]; then
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  count() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"; }
  total=$(count total); executed=$(count executed)
  echo "Tests: $(count passed) passed, $(count failed) failed, $((total - executed)) skipped"
fi
exit "$status"
