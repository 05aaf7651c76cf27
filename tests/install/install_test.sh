#!/bin/bash
# install_test.sh — `cmake --install` into a DESTDIR puts everything where
# Debian puts it, and a partner's program builds against that tree with
# pkg-config alone, then publishes to and subscribes from a real broker (the
# installed fedbus-broker, CURVE keys, a registered partner; PostgreSQL from
# pg_virtualenv's PG* environment; ports 27700-27702).
#
# usage: install_test.sh BUILD_DIR SOURCE_DIR LIBDIR SOVERSION CC [EXTRA_CFLAGS]
# Exit status 0 when every check holds; 1 and "install_test: what" otherwise.
set -euo pipefail

BUILD=${1:?usage: install_test.sh BUILD_DIR SOURCE_DIR LIBDIR SOVERSION CC [EXTRA_CFLAGS]}
SRC=${2:?}
LIBDIR=${3:?}           # e.g. lib/x86_64-linux-gnu, relative to the prefix
SOVERSION=${4:?}
CC=${5:?}               # the build's C compiler (cc on Debian: gcc)
EXTRA_CFLAGS=${6:-}     # the sanitizer build's flags, for the partner program too
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DB=fedbus_it_install
INGEST=tcp://127.0.0.1:27700
FEED=tcp://127.0.0.1:27701
REPLAY=tcp://127.0.0.1:27702

work=$BUILD/tests/install/install-test
D=$work/destdir
broker_pid=
ok=

fail() { echo "install_test: $*"; exit 1; }

cleanup() {
  if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
    kill -TERM "$broker_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$broker_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$broker_pid" 2>/dev/null || true
  fi
  [ -n "$broker_pid" ] && wait "$broker_pid" 2>/dev/null || true
  if [ -z "$ok" ] && [ -f "$work/broker.log" ]; then
    echo "--- broker log (last 30 lines) ---"
    tail -n 30 "$work/broker.log" || true
  fi
  dropdb --if-exists "$DB" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$work"
mkdir -p "$work"

# ---- the install and where it puts things ----
DESTDIR=$D cmake --install "$BUILD" --prefix /usr >"$work/install.log" 2>&1 ||
  { cat "$work/install.log"; fail "cmake --install failed"; }

for f in usr/bin/fedbus-broker usr/bin/fedbus-node usr/bin/fedbus \
         usr/include/fedbus/fedbus.h usr/include/fedbus/fb_client.h usr/include/fedbus/fb_topic.h \
         usr/include/fedbus/fb_client_keys.h usr/include/fedbus/fb_export.h \
         "usr/$LIBDIR/libfedbus.so.$SOVERSION" "usr/$LIBDIR/pkgconfig/fedbus.pc" \
         usr/lib/systemd/system/fedbus-broker.service usr/lib/systemd/system/fedbus-node@.service \
         usr/share/doc/fedbus/examples/broker.ini usr/share/doc/fedbus/examples/node-kr-incheon.ini \
         usr/share/doc/fedbus/install.md; do
  [ -e "$D/$f" ] || fail "/$f not installed"
done
[ -x "$D/usr/bin/fedbus-broker" ] && [ -x "$D/usr/bin/fedbus-node" ] && [ -x "$D/usr/bin/fedbus" ] ||
  fail "a program is not executable"
# The node's test hooks are not in the node installed (nodes/fb_syncer.h).
! grep -q FEDBUS_TEST_SYNC_DELAY_MS "$D/usr/bin/fedbus-node" || fail "/usr/bin/fedbus-node has the test hooks"
# Nothing outside /usr (no /etc: the admin writes the configurations).
extra=$(cd "$D" && ls -A | grep -v '^usr$' || true)
[ -z "$extra" ] || fail "installed outside /usr: $extra"

lib=$D/usr/$LIBDIR/libfedbus.so
[ "$(readlink "$lib")" = "libfedbus.so.$SOVERSION" ] || fail "libfedbus.so does not point at libfedbus.so.$SOVERSION"
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libfedbus.so.$SOVERSION" ] || fail "SONAME is '$soname', not libfedbus.so.$SOVERSION"
echo "install_test: SONAME $soname"
# The ABI is the public headers' FB_EXPORT functions: no internal symbol, no protobuf-c code.
exported=$(nm -D --defined-only "$lib" | awk '$2 == "T" || $2 == "D" || $2 == "R" || $2 == "B" {print $3}')
bad=$(echo "$exported" | grep -v '^fb_' || true)
[ -z "$bad" ] || fail "exports symbols outside the API: $(echo $bad | head -c 300)"
for sym in fb_version fb_strerror fb_subscriber_open fb_subscriber_recv fb_publisher_send_json \
           fb_replay_opts fb_message_json fb_pattern_match fb_client_keys_load; do
  echo "$exported" | grep -x "$sym" >/dev/null || fail "does not export $sym"
done
for sym in fb_keys_read fb_envelope_decode fb_wire_publish_wrap fb_zmq_open; do
  if echo "$exported" | grep -x "$sym" >/dev/null; then fail "exports the internal $sym"; fi
done
echo "install_test: exports $(echo "$exported" | wc -l) functions, all in include/fedbus"

for unit in fedbus-broker.service fedbus-node@.service; do
  grep -q '^ExecStart=/usr/bin/fedbus-' "$D/usr/lib/systemd/system/$unit" ||
    fail "$unit: ExecStart does not run the installed program"
  grep -q '^LoadCredential=.*\.key:/etc/fedbus/' "$D/usr/lib/systemd/system/$unit" ||
    fail "$unit: does not give the service its key with LoadCredential="
done

# ---- a partner's program, with pkg-config alone ----
export PKG_CONFIG_SYSROOT_DIR=$D
export PKG_CONFIG_PATH=$D/usr/$LIBDIR/pkgconfig
flags=$(pkg-config --cflags --libs fedbus) || fail "pkg-config --cflags --libs fedbus failed"
echo "install_test: pkg-config: $flags"
[ "$(pkg-config --modversion fedbus)" = "$(sed -n 's/^Version: //p' "$PKG_CONFIG_PATH/fedbus.pc")" ] ||
  fail "pkg-config --modversion disagrees with fedbus.pc"
case " $flags " in
  *" -I$D/usr/include "*) ;;
  *) fail "pkg-config --cflags does not point into the DESTDIR" ;;
esac
# shellcheck disable=SC2086 # flags are words
"$CC" -std=c11 -Wall -Wextra -Werror $EXTRA_CFLAGS -o "$work/subscriber" "$here/subscriber.c" $flags ||
  fail "the partner's program does not build against the installed tree"
export LD_LIBRARY_PATH=$D/usr/$LIBDIR
ldd "$work/subscriber" | grep "libfedbus.so.$SOVERSION => $D/usr/$LIBDIR/" >/dev/null ||
  fail "the partner's program does not load libfedbus from the DESTDIR"

# ---- keys and a broker ----
cli=$D/usr/bin/fedbus
"$cli" keygen --member=broker --out="$work" >/dev/null
"$cli" keygen --member=intl-lyon --out="$work" >/dev/null
PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$DB"
createdb "$DB"
"$cli" member add intl-lyon --kind=partner --keys="$work/intl-lyon.pub" --country=FR \
  --name-en='Lyon partner' --pg="dbname=$DB" >/dev/null

# The key checks the partner's program makes before it connects.
"$work/subscriber" --check-keys "$work/intl-lyon.key" "$work/broker.pub" >"$work/keys.out" 2>&1 ||
  { cat "$work/keys.out"; fail "a good secret key file and broker.pub refused"; }
grep -qx 'keys intl-lyon' "$work/keys.out" || fail "the key file's member not read"
if "$work/subscriber" --check-keys "$work/intl-lyon.pub" "$work/broker.pub" >"$work/keys.out" 2>&1; then
  fail "a .pub taken as a secret key file"
fi
grep -q '^keys refused: .*holds no secret key' "$work/keys.out" || { cat "$work/keys.out"; fail "no reason for a .pub"; }
cp "$work/intl-lyon.key" "$work/open.key"
chmod 0644 "$work/open.key"
if "$work/subscriber" --check-keys "$work/open.key" "$work/broker.pub" >"$work/keys.out" 2>&1; then
  fail "a secret key file readable by others taken"
fi
grep -q '^keys refused: ' "$work/keys.out" || { cat "$work/keys.out"; fail "no reason for an open key file"; }

"$D/usr/bin/fedbus-broker" --pg="dbname=$DB" --keys="$work/broker.key" --ingest="$INGEST" --feed="$FEED" \
  --replay="$REPLAY" --stats-interval=0 >"$work/broker.log" 2>&1 &
broker_pid=$!
for _ in $(seq 200); do
  kill -0 "$broker_pid" 2>/dev/null || fail "the installed broker exited during start"
  grep -q 'broker: serving: ' "$work/broker.log" 2>/dev/null && break
  sleep 0.1
done
grep -q 'broker: serving: ' "$work/broker.log" || fail "the installed broker did not start serving within 20 s"

set +e
timeout 60 "$work/subscriber" "$INGEST" "$FEED" "$REPLAY" "$work/intl-lyon.key" "$work/broker.pub" \
  >"$work/subscriber.out" 2>&1
rc=$?
set -e
cat "$work/subscriber.out"
[ "$rc" = 0 ] || fail "the partner's program failed (exit $rc)"
grep -qE '^fedbus [0-9]+\.[0-9]+\.[0-9]+$' "$work/subscriber.out" || fail "no version printed"
seq=$(sed -n 's/^published [0-9a-f-]\{36\} global_seq=\([0-9][0-9]*\)$/\1/p' "$work/subscriber.out")
[ -n "$seq" ] || fail "the publish was not acknowledged"
grep -qx "received event.intl-lyon.forum global_seq=$seq origin=intl-lyon kind=event" "$work/subscriber.out" ||
  fail "the event was not received back from the feed"
grep -qx 'title en=Lyon partner forum' "$work/subscriber.out" || fail "English title not decoded"
grep -qx 'title ko=리옹 파트너 포럼' "$work/subscriber.out" || fail "Korean title not decoded"
grep -q '^json {.*"global_seq":'"$seq"',' "$work/subscriber.out" || fail "no JSON of the message"
echo "install_test: a partner's program built with pkg-config alone published and received global_seq $seq"

# docs/install.md's partner-tail.c, built and run as printed.
awk '/^## Building a partner.s program/{on=1; next} /^## /{on=0}
     on && /^```c$/{code=1; next} on && /^```/{code=0; next} on && code' "$SRC/docs/install.md" >"$work/partner-tail.c"
grep -q 'fb_subscriber_recv' "$work/partner-tail.c" || fail "no partner-tail.c found in docs/install.md"
# shellcheck disable=SC2086
"$CC" -std=c11 -Wall -Wextra -Werror $EXTRA_CFLAGS -o "$work/partner-tail" "$work/partner-tail.c" $flags ||
  fail "docs/install.md's partner-tail.c does not build"
set +e
timeout 30 "$work/partner-tail" "$FEED" "$REPLAY" "$work/intl-lyon.key" "$work/broker.pub" 1 >"$work/tail.out" 2>&1
rc=$?
set -e
cat "$work/tail.out"
[ "$rc" = 0 ] || fail "docs/install.md's partner-tail failed (exit $rc)"
grep -qx "$seq event.intl-lyon.forum Lyon partner forum" "$work/tail.out" ||
  fail "docs/install.md's partner-tail did not print the event"
echo "install_test: docs/install.md's partner-tail.c builds and runs as printed"
ok=1
