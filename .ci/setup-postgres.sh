#!/usr/bin/env bash
# Idempotent: PostgreSQL on 127.0.0.1:5432 with role/password moonbase and database
# moonbase_test, for the target_api PostgreSQL tests (MOONBASE_TEST_POSTGRES_URL).
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  # apt-get update only when the package lists do not know postgresql yet
  if ! apt-cache show postgresql >/dev/null 2>&1; then as_root apt-get update -q; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
fi

version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
cluster=main
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$version $cluster"; then
  as_root pg_createcluster "$version" "$cluster" -- --auth-local=peer --auth-host=scram-sha-256
fi

conf=/etc/postgresql/$version/$cluster/postgresql.conf
if ! grep -qE "^listen_addresses = '127.0.0.1'" "$conf"; then
  echo "listen_addresses = '127.0.0.1'" | as_root tee -a "$conf" >/dev/null
fi
if ! grep -qE "^port = 5432" "$conf"; then
  echo "port = 5432" | as_root tee -a "$conf" >/dev/null
fi

status=$(pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1==v && $2==c {print $4}')
if [ "$status" != "online" ]; then
  as_root pg_ctlcluster "$version" "$cluster" start
fi

psql_pg() { as_root su postgres -c "psql -v ON_ERROR_STOP=1 -qtA -c \"$1\""; }
for _ in $(seq 1 50); do
  if as_root su postgres -c "pg_isready -q -h 127.0.0.1 -p 5432"; then break; fi
  sleep 0.2
done
if [ "$(psql_pg "SELECT 1 FROM pg_roles WHERE rolname='moonbase'")" != "1" ]; then
  psql_pg "CREATE ROLE moonbase LOGIN PASSWORD 'moonbase'"
fi
if [ "$(psql_pg "SELECT 1 FROM pg_database WHERE datname='moonbase_test'")" != "1" ]; then
  psql_pg "CREATE DATABASE moonbase_test OWNER moonbase"
fi
echo "postgresql $version/$cluster ready: postgresql://moonbase:moonbase@127.0.0.1:5432/moonbase_test"
