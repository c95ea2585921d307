#!/bin/sh
# docker-entrypoint-initdb.d: runs once, when the volume is first initialised, as the owner POSTGRES_USER.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -f /fuli/app-role.sql
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -v password="$FULI_APP_PASSWORD" <<'SQL'
ALTER ROLE fuli_app PASSWORD :'password';
SQL
