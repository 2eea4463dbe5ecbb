#!/usr/bin/env bash
# Install and start the outside programs tests use: PostgreSQL (started if stopped),
# Chromium, LibreOffice Writer, CJK fonts, poppler (pdftoppm), pg_dump/pg_restore (duban backup).
# Idempotent; needs root on Debian.
set -euo pipefail

packages=(chromium libreoffice-writer-nogui fonts-noto-cjk fonts-lxgw-wenkai fonts-arphic-ukai fonts-wqy-zenhei poppler-utils docker-compose
          postgresql-client)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "ci-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The CJK serif the documents use without Debian's fonts-noto-cjk (npm; tests/integration/test_shipped_fonts.py).
# npm only when there is none: a NodeSource nodejs brings its own and conflicts with Debian's npm.
if ! command -v npm >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
bash scripts/fonts.sh

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "ci-deps: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432

# The server's prioritize extension (a worker's niced flow runs renice their backends:
# deploy/README.md; tests/integration/test_backend_nice.py), for each installed version.
for version in $(ls /etc/postgresql); do
  if ! dpkg -s "postgresql-$version-prioritize" >/dev/null 2>&1; then
    echo "ci-deps: installing postgresql-$version-prioritize"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "postgresql-$version-prioritize" >/dev/null \
      || { apt-get update -qq && apt-get install -y -qq --no-install-recommends \
             "postgresql-$version-prioritize" >/dev/null; }
  fi
done
