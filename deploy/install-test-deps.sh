#!/usr/bin/env bash
# Installs what the tests need beyond Python packages: PostgreSQL, Prometheus (promtool),
# kcat, wrk, Chromium with its WebDriver (the portal's browser tests), LibreOffice, poppler
# and the Liberation fonts (the compiled report converted to PDF and PNG) from Debian's
# packages, Java and Maven if missing, and Apache Kafka's jars from Maven Central. Safe to
# run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
command -v promtool >/dev/null || need+=(prometheus)
command -v kcat >/dev/null || need+=(kcat)
command -v wrk >/dev/null || need+=(wrk)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
compgen -G "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf" >/dev/null || need+=(fonts-dejavu-core)
command -v soffice >/dev/null || need+=(libreoffice-writer-nogui libreoffice-calc-nogui)
command -v pdftoppm >/dev/null || need+=(poppler-utils)
compgen -G "/usr/share/fonts/truetype/liberation*/LiberationSerif-Regular.ttf" >/dev/null || need+=(fonts-liberation2)
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need+=(maven)
if ((${#need[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing from Debian: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

.venv/bin/python -c "from deploy.brokers import ensure_kafka_jars; print('kafka jars:', ensure_kafka_jars())"
