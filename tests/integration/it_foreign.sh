#!/bin/bash
# it_foreign: a client written in Python from docs/protocol.md and
# proto/fedbus.proto alone (tests/integration/foreign_client.py) against a
# real fedbus-broker and PostgreSQL (PG* from pg_virtualenv).
#
# The broker runs with keys, as by default: the client and the walkthrough
# speak CURVE with keys made by it_keygen (lib/fb_keys) and registered in
# fedbus_members by SQL.
#
# usage: it_foreign.sh FEDBUS_BROKER_BIN PROTO_DIR IT_KEYGEN_BIN
# Exit status: the client's (or 2 when the setup fails).
set -euo pipefail

FEDBUS_BROKER_BIN=${1:?usage: it_foreign.sh FEDBUS_BROKER_BIN PROTO_DIR IT_KEYGEN_BIN}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROTO_DIR=${2:-$here/../../proto}
KEYGEN=${3:?usage: it_foreign.sh FEDBUS_BROKER_BIN PROTO_DIR IT_KEYGEN_BIN}
PY=/usr/bin/python3             # Debian's python3-zmq / python3-protobuf
DB=fedbus_it_foreign
INGEST=tcp://127.0.0.1:21800
FEED=tcp://127.0.0.1:21801
REPLAY=tcp://127.0.0.1:21802

tmp=$(mktemp -d "${TMPDIR:-/tmp}/it_foreign.XXXXXX")
broker_pid=
register=
rc=2

cleanup() {
  if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
    kill -TERM "$broker_pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$broker_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$broker_pid" 2>/dev/null || true
  fi
  [ -n "$broker_pid" ] && wait "$broker_pid" 2>/dev/null || true
  if [ "$rc" != 0 ] && [ -f "$tmp/broker.log" ]; then
    echo "--- broker log (last 40 lines) ---"
    tail -n 40 "$tmp/broker.log" || true
  fi
  dropdb --if-exists "$DB" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$DB"
createdb "$DB"

protoc --python_out="$tmp" -I "$PROTO_DIR" fedbus.proto

# Keys: the broker's, and those of the two members the client and the
# walkthrough publish as.
"$KEYGEN" broker "$tmp" >/dev/null
for m in intl-pyclient intl-wta; do
  key=$("$KEYGEN" "$m" "$tmp")
  register="$register INSERT INTO fedbus_members (member, kind, curve_public, publish)"
  register="$register VALUES ('$m', 'partner', '$key', '{*.$m}');"
done
KEYS=(--keys="$tmp/intl-pyclient.key" --broker-key="$tmp/broker.pub")

"$FEDBUS_BROKER_BIN" --pg="dbname=$DB" --ingest="$INGEST" --feed="$FEED" \
  --replay="$REPLAY" --stats-interval=0 --keys="$tmp/broker.key" >"$tmp/broker.log" 2>&1 &
broker_pid=$!

# The broker makes the registry's table as it starts; the members come then.
for _ in $(seq 50); do
  psql -qAt -d "$DB" -c "SELECT 1 FROM fedbus_members LIMIT 0" >/dev/null 2>&1 && break
  sleep 0.1
done
psql -q -d "$DB" -c "$register NOTIFY fedbus_members;" >/dev/null

ready=
for _ in $(seq 40); do
  if ! kill -0 "$broker_pid" 2>/dev/null; then
    echo "it_foreign: broker exited during start"
    exit 2
  fi
  if "$PY" "$here/foreign_client.py" --pb-dir="$tmp" --replay="$REPLAY" "${KEYS[@]}" \
       --probe --timeout-ms=500 2>/dev/null; then
    ready=1
    break
  fi
done
if [ -z "$ready" ]; then
  echo "it_foreign: broker not answering on $REPLAY"
  exit 2
fi

set +e
"$PY" "$here/foreign_client.py" --pb-dir="$tmp" --ingest="$INGEST" --feed="$FEED" \
  --replay="$REPLAY" "${KEYS[@]}"
rc=$?
set -e
[ "$rc" = 0 ] || exit "$rc"

# The walkthrough of docs/protocol.md ("Writing a client in Python"), run as
# printed: its python blocks in order, on this test's ports.
rc=1
DOC=$here/../../docs/protocol.md
awk '/^## Writing a client in Python/{on=1; next} /^## /{on=0}
     on && /^```python/{code=1; next} on && /^```/{code=0; next} on && code' "$DOC" |
  sed -e "s#tcp://127.0.0.1:7701#$INGEST#; s#tcp://127.0.0.1:7702#$FEED#; s#tcp://127.0.0.1:7703#$REPLAY#" \
  >"$tmp/walkthrough.py"
grep -q 'feed.recv' "$tmp/walkthrough.py" || { echo "it_foreign: no walkthrough found in $DOC"; exit 1; }
set +e
(cd "$tmp" && timeout 30 "$PY" walkthrough.py) >"$tmp/walkthrough.out" 2>&1
wrc=$?
set -e
cat "$tmp/walkthrough.out"
if [ "$wrc" != 0 ]; then
  echo "it_foreign: the walkthrough of docs/protocol.md failed (exit $wrc)"
  exit 1
fi
# It publishes, reads the event back from the feed, and batches three more.
grep -qE '^ACK_STATUS_ACCEPTED [0-9]+ REJECT_NONE' "$tmp/walkthrough.out" || { echo "it_foreign: walkthrough publish not accepted"; exit 1; }
grep -qE '^event\.intl-wta\.forum [0-9]+ [0-9]+ Technopolis forum 2026$' "$tmp/walkthrough.out" ||
  { echo "it_foreign: walkthrough did not read its event from the feed"; exit 1; }
[ "$(grep -cE '^ACK_STATUS_ACCEPTED [0-9]+ REJECT_NONE$' "$tmp/walkthrough.out")" = 3 ] ||
  { echo "it_foreign: walkthrough batch not accepted three times"; exit 1; }
echo "it_foreign: the docs/protocol.md walkthrough runs as printed"
rc=0
exit 0
