#!/usr/bin/env bash
# bench_copy_sealed.sh — fedbus-bench-copy-sealed refuses bad flags with one clear line, and
# stores the linked envelopes and one seal row per frame in the transactions it says.
# usage: bench_copy_sealed.sh PATH/TO/fedbus-bench-copy-sealed
set -uo pipefail
BIN=$1
fails=0
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

# refused FLAG WORDS: exit status 2, nothing on stdout, one line on stderr holding WORDS.
refused() {
    local rc=0
    "$BIN" "$1" >"$out" 2>"$err" || rc=$?
    if ((rc != 2)) || [[ -s $out ]] || (($(wc -l <"$err") != 1)) || ! grep -qF -- "$2" "$err"; then
        echo "FAIL: $1: exit $rc, stderr: $(cat "$err")"
        fails=$((fails + 1))
    fi
}
refused --frame=0 "frame: 0 is outside 1..1024"
refused --frame=1025 "frame: 1025 is outside 1..1024"
refused --frame=abc "frame: 'abc' is not an integer"
refused --batch=0 "batch: 0 is outside 1..1000000"
refused --batch=99999999999999999999999 "batch: '99999999999999999999999' is not an integer"
refused --rows=-1 "rows: -1 is outside 1..100000000"
refused --nodes=1000 "nodes: 1000 is outside 1..999"
refused --payload=12 "payload: 12 is outside"
refused --bogus=1 "bogus"
refused stray "unexpected argument"

# With a PostgreSQL (ops/test runs the suite under pg_virtualenv): 1,003 rows over 3 origins in
# frames of 7 are 48 + 48 + 48 = 144 seals covering every row, in 21 transactions of ~50 rows.
if [[ -n ${PGHOST:-} ]] && command -v psql >/dev/null; then
    db=fedbus_bench_sealed_$$
    psql -qAtX -c "CREATE DATABASE $db" >/dev/null
    if ! "$BIN" --pg="dbname=$db" --rows=1003 --nodes=3 --frame=7 --batch=50 --json="$out" 2>"$err"; then
        echo "FAIL: the run failed: $(cat "$err")"
        fails=$((fails + 1))
    else
        got=$(psql -qAtX -d "$db" -c "SELECT (SELECT count(*) FROM fedbus_messages), count(*),
            sum(array_length(seqs, 1)), max(array_length(seqs, 1)), count(DISTINCT origin) FROM fedbus_seals")
        [[ $got == "1003|144|1003|7|3" ]] || { echo "FAIL: stored rows|seals|covered|largest|origins: $got"; fails=$((fails + 1)); }
        grep -q '"seals":144,"transactions":21,' "$out" || { echo "FAIL: JSON: $(cat "$out")"; fails=$((fails + 1)); }
    fi
    psql -qAtX -c "DROP DATABASE $db" >/dev/null
    # Fewer rows than origins: the origins without a row get no seal.
    psql -qAtX -c "CREATE DATABASE $db" >/dev/null
    if ! "$BIN" --pg="dbname=$db" --rows=2 --nodes=3 --json="$out" 2>"$err"; then
        echo "FAIL: 2 rows over 3 origins: $(cat "$err")"
        fails=$((fails + 1))
    else
        got=$(psql -qAtX -d "$db" -c "SELECT (SELECT count(*) FROM fedbus_messages), count(*) FROM fedbus_seals")
        [[ $got == "2|2" ]] || { echo "FAIL: 2 rows over 3 origins: rows|seals $got"; fails=$((fails + 1)); }
    fi
    psql -qAtX -c "DROP DATABASE $db" >/dev/null
    # More publishes per origin than the node's outbox starts with room for
    # (it grows while they are made): every row still sealed and stored.
    psql -qAtX -c "CREATE DATABASE $db" >/dev/null
    if ! "$BIN" --pg="dbname=$db" --rows=5000 --nodes=2 --frame=950 --batch=3200 --json="$out" 2>"$err"; then
        echo "FAIL: 2,500 rows an origin: $(cat "$err")"
        fails=$((fails + 1))
    else
        got=$(psql -qAtX -d "$db" -c "SELECT (SELECT count(*) FROM fedbus_messages), sum(array_length(seqs, 1)) FROM fedbus_seals")
        [[ $got == "5000|5000" ]] || { echo "FAIL: 2,500 rows an origin: rows|covered $got"; fails=$((fails + 1)); }
    fi
    psql -qAtX -c "DROP DATABASE $db" >/dev/null
else
    echo "no PostgreSQL (PGHOST unset): the stored rows are not checked"
fi
((fails == 0)) && echo "ok" || echo "$fails check(s) failed"
exit $((fails > 0))
