#!/bin/sh
# Creates one database per service (docker-compose's postgres runs this once, on first start).
set -eu
for name in registry reporting aggregator notifier; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" -c "CREATE DATABASE $name"
done
