#!/bin/bash
# InfluxDB 2.7 init hook (/docker-entrypoint-initdb.d, run once after DOCKER_INFLUXDB_INIT_MODE=setup).
# energy-forecast talks to InfluxDB through the v1 compatibility API (InfluxQL /query, line
# protocol /write?db=...). On 2.x a v1 database name resolves to a bucket through a DBRP mapping;
# this creates database energy_forecasting / retention policy autogen -> the bucket of that name.
# Authentication: the service sends "Authorization: Token $INFLUX_TOKEN", which the v1 endpoints
# accept on 2.x, so no separate v1 user is needed (create one with `influx v1 auth create` if a
# client can only do basic auth, and set INFLUX_USERNAME/INFLUX_PASSWORD instead of the token).
set -euo pipefail
bucket="${DOCKER_INFLUXDB_INIT_BUCKET:-energy_forecasting}"
bucket_id="$(influx bucket list --name "$bucket" --hide-headers | cut -f1)"
if influx v1 dbrp list --db "$bucket" --hide-headers | grep -q .; then
    echo "init-dbrp: mapping for $bucket exists"
else
    influx v1 dbrp create --db "$bucket" --rp autogen --bucket-id "$bucket_id" --default
fi
