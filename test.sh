#!/usr/bin/env bash
# Runs every LlmStack test, from app-model tests to the browser tests. Installs what the tests need and
# the machine lacks (Debian's Chromium for Playwright: browser downloads are not possible offline).
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -x /usr/bin/chromium ]; then
  echo "test.sh: installing Debian's chromium for the browser tests" >&2
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

dotnet test LlmStack.sln "$@"
