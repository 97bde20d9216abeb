#!/usr/bin/env bash
# Ballast setup: Debian packages, npm dependencies, TypeScript build. Idempotent; run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(postgresql-15 postgresql-contrib etcd-server etcd-client pgbouncer haproxy pgbackrest iproute2 nftables procps)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages (${missing[*]}); run this script as root" >&2
    exit 1
  fi
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d keeps the packages' own system services from starting: Ballast runs its own processes.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! id postgres >/dev/null 2>&1; then
  echo "setup: the 'postgres' system user is missing (it comes with postgresql-common)" >&2
  exit 1
fi

if [ ! -d node_modules ] || [ package.json -nt node_modules/.package-lock.json ] || { [ -f package-lock.json ] && [ package-lock.json -nt node_modules/.package-lock.json ]; }; then
  echo "setup: installing npm dependencies"
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
fi

echo "setup: building"
npx tsc -p tsconfig.json
echo "setup: done"
