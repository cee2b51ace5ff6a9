#!/usr/bin/env bash
# Store tests (crates/store, crates/engine) start a real PostgreSQL 15 server in a temp dir with initdb + pg_ctl
# (/usr/lib/postgresql/15/bin), run as the `postgres` system user when the tests run as root.
set -euo pipefail
if [ ! -x /usr/lib/postgresql/15/bin/initdb ] || [ ! -x /usr/lib/postgresql/15/bin/pg_ctl ]; then
  apt-get install -y --no-install-recommends postgresql-15
fi
# The package's default cluster is not needed: tests start their own servers on free ports.
id postgres >/dev/null
