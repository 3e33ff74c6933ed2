#!/usr/bin/env bash
# Runs every LlmStack test, from app-model tests to the browser tests. Installs what the tests need and
# the machine lacks (Debian's Chromium for Playwright: browser downloads are not possible offline).
# Extra arguments go to `dotnet test` (e.g. --filter "FullyQualifiedName~Api").
# --fast (first argument): everything but the end-to-end (AppHost), browser and container tests - a developer's loop.
set -euo pipefail
cd "$(dirname "$0")"

fast=""
if [ "${1:-}" = "--fast" ]; then
  shift
  fast=1
  set -- --filter "FullyQualifiedName!~LlmStack.Tests.EndToEnd&FullyQualifiedName!~LlmStack.Tests.Browser&FullyQualifiedName!~LlmStack.Tests.Containers" "$@"
fi

sudo_cmd=""
[ "$(id -u)" = 0 ] || sudo_cmd="sudo"
apt_updated=""
apt_install() {
  [ -n "$apt_updated" ] || { $sudo_cmd apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if [ -z "$fast" ] && [ ! -x /usr/bin/chromium ]; then
  echo "test.sh: installing Debian's chromium for the browser tests" >&2
  apt_install chromium
fi

# The shared-budget tests (LlmStack.Tests/Api/Access/SharedBudgetTests) start their own redis-server; the package's
# own service must not start at install time.
if [ ! -x /usr/bin/redis-server ]; then
  echo "test.sh: installing Debian's redis-server for the shared-budget tests" >&2
  own_policy=""
  if [ "$(id -u)" = 0 ] && [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
  fi
  apt_install redis-server || echo "test.sh: could not install redis-server; the shared-budget tests will say so" >&2
  [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
fi

# The container tests (LlmStack.Tests/Containers) need a Docker engine, docker-compose, debootstrap (base images
# are made locally when no registry answers), promtool and caddy (they check the files the compose publisher writes).
# Where no engine answers and this runs as root (CI), Debian's engine is installed and started for the run, and
# stopped after it; otherwise those tests report themselves skipped with the reason. Not done when a --filter leaves the container tests out.
wants_containers() {
  [ -z "$fast" ] || return 1
  local args="$*"
  [[ $args != *--filter* || $args == *Containers* ]]
}
started_dockerd=""
if wants_containers "$@"; then
  if [ "$(id -u)" = 0 ]; then
    missing=()
    if ! docker info >/dev/null 2>&1 && ! command -v dockerd >/dev/null; then missing+=(docker.io); fi
    command -v docker-compose >/dev/null || missing+=(docker-compose)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    command -v promtool >/dev/null || missing+=(prometheus)
    command -v caddy >/dev/null || missing+=(caddy)
    if [ ${#missing[@]} -gt 0 ]; then
      echo "test.sh: installing Debian's ${missing[*]} for the container tests" >&2
      # No service may start at install time (the prometheus package would start a server).
      own_policy=""
      if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
      fi
      apt_install "${missing[@]}" || echo "test.sh: could not install ${missing[*]}; the container tests will say what is missing" >&2
      [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
    fi
    if ! docker info >/dev/null 2>&1 && command -v dockerd >/dev/null; then
      echo "test.sh: starting dockerd for the container tests (log: /var/log/llmstack-dockerd.log)" >&2
      setsid dockerd >/var/log/llmstack-dockerd.log 2>&1 < /dev/null &
      started_dockerd=$!
      for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
      docker info >/dev/null 2>&1 || echo "test.sh: dockerd did not answer within 60 s (see /var/log/llmstack-dockerd.log)" >&2
    fi
  elif ! docker info >/dev/null 2>&1; then
    echo "test.sh: no Docker engine answers and this is not root: the container tests will be skipped" >&2
  fi
fi
stop_dockerd() {
  if [ -n "$started_dockerd" ]; then
    kill "$started_dockerd" 2>/dev/null && wait "$started_dockerd" 2>/dev/null || true
  fi
}
trap stop_dockerd EXIT

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
