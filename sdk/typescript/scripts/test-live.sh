#!/usr/bin/env bash
# The SDK's tests against a live `make run`: a fresh embedded database, seeded accounts (made with
# `manage.py users_create`, not the rate-limited sign-up), short-lived access tokens so refreshes
# happen, then Node's test runner. Usage: sdk/typescript/scripts/test-live.sh (from anywhere).
set -euo pipefail
SDK=$(cd "$(dirname "$0")/.." && pwd)
ROOT=$(cd "$SDK/../.." && pwd)
cd "$ROOT"
PORT=${SDK_TEST_PORT:-$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")}
USER_COUNT=${CLEAVE_SDK_USER_COUNT:-12}
VAR_DIR=$(mktemp -d)
LOG="$ROOT/var/sdk-server.log"
# Embedded mode whatever the caller's environment says.
unset DATABASE_URL REDIS_URL CLEAVE_MODE SECRET_KEY CLEAVE_ENCRYPTION_KEYS CLEAVE_HASH_KEY DEBUG ALLOWED_HOSTS
export CLEAVE_VAR_DIR="$VAR_DIR" CLEAVE_ACCESS_TOKEN_SECONDS=${CLEAVE_ACCESS_TOKEN_SECONDS:-3}
export CLEAVE_SDK_PASSWORD="sdk-test-password-$RANDOM$RANDOM"

make install >/dev/null
.venv/bin/python manage.py migrate --no-input -v 0
users=()
for n in $(seq 1 "$USER_COUNT"); do
  email="sdk-$n@example.com"
  .venv/bin/python manage.py users_create --email "$email" --password "$CLEAVE_SDK_PASSWORD" \
    --display-name "SDK $n" --verified >/dev/null
  users+=("$email")
done
export CLEAVE_SDK_USERS=$(IFS=,; echo "${users[*]}")

mkdir -p var
# Its own process group (job control on), so that stopping it stops the server under make too.
set -m
make run PORT="$PORT" >"$LOG" 2>&1 &
SERVER=$!
set +m
stop() {
  local status=$?
  kill -- -"$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  rm -rf "$VAR_DIR"
  exit "$status"
}
trap stop EXIT
trap "exit 143" INT TERM  # so that the EXIT trap stops the server on a signal too
for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  kill -0 $SERVER 2>/dev/null || { cat "$LOG"; exit 1; }
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null || { echo "make run did not come up"; cat "$LOG"; exit 1; }

cd "$SDK"
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run generate
CLEAVE_URL="http://127.0.0.1:$PORT" npm test
