#!/usr/bin/env bash
# Checks the Prometheus files in docs/ with promtool (Debian package `prometheus`,
# installed when missing; the metrics API suite needs it too for `promtool check metrics`).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v promtool >/dev/null; then
  apt-get update -qq && apt-get install -y -qq prometheus >/dev/null
fi
promtool check rules docs/prometheus/alerts.yml
promtool check config docs/prometheus/prometheus.yml
python3 -c 'import json,sys; d=json.load(open("docs/grafana/bourse.json")); assert d["panels"], "no panels"; print("grafana dashboard:", len(d["panels"]), "panels")'
