#!/bin/sh
# Creates one database per data service (docker-compose's postgres runs this once, on its
# first start with an empty volume); CAMPAIGN_DATABASES names them (deploy/compose.py).
set -eu
for name in $CAMPAIGN_DATABASES; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" -c "CREATE DATABASE $name"
done
