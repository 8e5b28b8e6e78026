#!/usr/bin/env bash
# The demo store: three registers of "Tienda Centro" on this machine, each
# with its own data dir and agent (cajad), in step over the LAN (loopback,
# static peers, no mDNS), then uploading to a throw-away cloud (PostgreSQL
# and caja-cloud). It tells what happens and checks it:
#   1. caja-1 creates the store; caja-2 and caja-3 join over the LAN;
#   2. sales on all three reach the others within milliseconds;
#   3. caja-3 is cut off (its agent runs alone, as with its cable out) and
#      keeps selling; a price is set differently on both sides;
#   4. the heal: equal digests on all three, the price conflict on all
#      three; the manager resolves it on caja-2 and all three settle;
#   5. caja-1 gets the cloud's URL: every event of the store lands in
#      PostgreSQL once, and caja-2 and caja-3 see them acknowledged.
# Exit status 0 only if every check holds. Everything it starts (agents,
# caja-cloud, PostgreSQL) is stopped and its temp dir removed at exit,
# failure or Ctrl-C included. Needs: tools/deps.sh (make demo runs it).
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
CTL="$build/cajactl"
CAJAD="$build/cajad"
CLOUD="$build/caja-cloud"
PGSH="$src/tests/support/pg.sh"
PY=$(command -v /usr/bin/python3 || command -v python3)
work=$(mktemp -d /tmp/caja-demo.XXXXXX)
declare -A PID=()	# register -> agent pid
CLOUD_PID=
PG_DIR=
checks=0
T_START=$(date +%s%N)

cleanup() {
	local rc=$? p n
	set +e
	trap - EXIT INT TERM
	for p in "${PID[@]}" $CLOUD_PID; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${PID[@]}" $CLOUD_PID; do
		for n in $(seq 50); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ -n "$PG_DIR" ] && "$PGSH" stop "$PG_DIR" >/dev/null 2>&1
	if [ "$rc" -ne 0 ]; then
		echo "demo: failed (exit $rc); last lines of the logs:" >&2
		tail -n 15 "$work"/*.log >&2 2>/dev/null
	fi
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$work"

if [ -t 1 ]; then B=$'\033[1m'; N=$'\033[0m'; else B=; N=; fi
say() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
note() { printf '   %s\n' "$*"; }
# One shell word, quoted the way a person would type it.
q() {
	case $1 in
	*[!A-Za-z0-9_./:=,-]*)
		case $1 in
		*"'"*) printf '%q' "$1" ;;
		*) printf "'%s'" "$1" ;;
		esac ;;
	*) printf '%s' "$1" ;;
	esac
}
# Shows a cajactl command as an operator types it, then its output.
run() {
	local a
	printf '$ cajactl'
	for a in "$@"; do printf ' %s' "$(q "$a")"; done
	printf '\n'
	"$CTL" "$@" 2>&1 | sed 's/^/    /'
	return "${PIPESTATUS[0]}"
}
# An append, with its result in one line.
add() {
	local dir=$1 type=$2 json=$3 out
	printf '$ cajactl --dir %s append %s --json %s\n' "$dir" "$type" "$(q "$json")"
	out=$("$CTL" --dir "$dir" append "$type" --json "$json")
	printf '    -> %s event seq %s\n' "$dir" \
	    "$(printf '%s' "$out" | sed -n 's/.*"seq":\([0-9]*\).*/\1/p')"
}
# A field of `cajactl get ... --json` (a list: its length).
field() {	# dir kind id field
	"$CTL" --dir "$1" get "$2" "$3" --json 2>/dev/null | "$PY" -c \
	    'import json,sys; v=json.load(sys.stdin).get(sys.argv[1]); print(v if not isinstance(v, list) else len(v))' "$4"
}
# A python expression over `cajactl status --json` (d).
st() {	# dir expr
	"$CTL" --dir "$1" --timeout 5 status --json 2>/dev/null | "$PY" -c \
	    'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$2"
}
check() {	# what got want
	checks=$((checks + 1))
	if [ "$2" = "$3" ]; then
		printf '   ok: %s: %s\n' "$1" "$2"
	else
		printf 'demo: FAILED: %s: got "%s", want "%s"\n' "$1" "$2" "$3" >&2
		exit 1
	fi
}
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# Ports 28xxx, offset by our pid, skipping any in use (/proc/net/tcp*).
port_used() {
	awk -v hp="$(printf ':%04X' "$1")" 'FNR > 1 && substr($2, length($2) - 4) == hp { f = 1 }
	    END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
NEXT_PORT=$((28000 + ($$ % 300) * 6))
alloc_port() {	# sets REPLY
	while port_used "$NEXT_PORT"; do NEXT_PORT=$((NEXT_PORT + 1)); done
	REPLY=$NEXT_PORT
	NEXT_PORT=$((NEXT_PORT + 1))
}
declare -A PORT=()
for r in caja-1 caja-2 caja-3; do alloc_port; PORT[$r]=$REPLY; done
alloc_port; ALONE_PORT=$REPLY
ep() { echo "tcp://127.0.0.1:${PORT[$1]}"; }

# Starts the agent of a register: listening on its port, dialling the
# other two (static peers, no mDNS). Extra arguments go to cajad.
start_agent() {	# reg [cajad args...]
	local r=$1 o peers=()
	shift
	for o in caja-1 caja-2 caja-3; do
		[ "$o" = "$r" ] || peers+=(--peer "$(ep "$o")")
	done
	"$CAJAD" --dir "$r" -d --no-mdns --http off --listen "$(ep "$r")" \
	    "${peers[@]}" "$@" >>"$work/$r.log" 2>&1 &
	PID[$r]=$!
	wait_agent "$r"
	printf '$ cajad --dir %s --listen %s %s%s  (pid %s)\n' "$r" "$(ep "$r")" \
	    "${peers[*]}" "${*:+ $*}" "${PID[$r]}"
}
wait_agent() {
	for _ in $(seq 200); do
		"$CTL" --dir "$1" --timeout 2 status --json 2>/dev/null |
		    grep -q '"agent": *"running"' && return 0
		kill -0 "${PID[$1]}" 2>/dev/null || break
		sleep 0.05
	done
	echo "demo: the agent of $1 did not start" >&2
	exit 1
}
stop_agent() {	# reg
	local p=${PID[$1]}
	kill -TERM "$p"
	wait "$p" 2>/dev/null || true
	unset "PID[$1]"
}
# Until all three registers hold the same events and state.
wait_converged() {	# secs
	local n=$(($1 * 20)) a b c
	while [ "$n" -gt 0 ]; do
		a=$("$CTL" --dir caja-1 digest) b=$("$CTL" --dir caja-2 digest)
		c=$("$CTL" --dir caja-3 digest)
		[ "$a" = "$b" ] && [ "$b" = "$c" ] && return 0
		sleep 0.05
		n=$((n - 1))
	done
	echo "demo: the registers did not converge within $1 s" >&2
	exit 1
}
# Until DIR has entity (kind id): prints the ms it took.
wait_for_entity() {	# dir kind id t0
	for _ in $(seq 400); do
		if "$CTL" --dir "$1" get "$2" "$3" >/dev/null 2>&1; then
			ms_since "$4"
			return 0
		fi
		sleep 0.005
	done
	echo "demo: $2 $3 never reached $1" >&2
	exit 1
}
peer_lines() {	# reg: its peers as `cajactl status` shows them
	"$CTL" --dir "$1" status | awk '/^peers/ { p = 1; print "    " $0; next }
	    p && /^ / { print "    " $0; next } { p = 0 }'
}

say "Three registers of one store, on this machine, over the LAN"
note "Each register has a data dir and its own agent (cajad). They talk"
note "ZeroMQ over TCP with CURVE encryption, on loopback with static peers"
note "(no mDNS): caja-1 $(ep caja-1), caja-2 $(ep caja-2),"
note "caja-3 $(ep caja-3). Working in $work"

say "caja-1 creates the store: it holds the store key (the admin)"
run --dir caja-1 init --store "Tienda Centro" --name caja-1
start_agent caja-1

say "caja-2 and caja-3 join over the LAN with invitations from caja-1"
for r in caja-2 caja-3; do
	token=$("$CTL" --dir caja-1 invite --expires 1h --role register)
	printf '$ cajactl --dir caja-1 invite --expires 1h\n    %s...%s\n' \
	    "${token:0:10}" "${token: -16}"
	printf '$ cajactl --dir %s join --token %s...%s --name %s\n' "$r" \
	    "${token:0:10}" "${token: -6}" "$r"
	"$CTL" --dir "$r" join --token "$token" --name "$r" | sed 's/^/    /'
done
start_agent caja-2
start_agent caja-3
t0=$(date +%s%N)
wait_converged 30
note "Their agents reach caja-1 knowing only the store's key; caja-1 admits"
note "each new key once, for its enrollment: in step after $(ms_since "$t0") ms."
for _ in $(seq 100); do
	[ "$(st caja-1 'len([p for p in d["peers"] if p["state"] == "up"])')" = 2 ] && break
	sleep 0.1
done
run --dir caja-1 devices
echo '$ cajactl --dir caja-1 status    (its peers)'
peer_lines caja-1
check "peers up on caja-1" \
    "$(st caja-1 'len([p for p in d["peers"] if p["state"] == "up"])')" 2

say "Sales on all three"
note "caja-1 sets up the catalogue and receives stock:"
add caja-1 ProductUpdated '{"product_id":"coca-1l","name":"Coca Cola 1L","barcode":"7591234000012","active":true}'
add caja-1 PriceChanged '{"product_id":"coca-1l","price_bs":"5.00"}'
add caja-1 StockReceived '{"product_id":"coca-1l","qty":48}'
add caja-1 ProductUpdated '{"product_id":"pan-1","name":"Pan campesino","active":true}'
add caja-1 PriceChanged '{"product_id":"pan-1","price_bs":"1.50"}'
add caja-1 StockReceived '{"product_id":"pan-1","qty":100}'
note "Each register sells; caja-3 registers a customer and sells on credit:"
add caja-1 SaleCreated '{"sale_id":"A-0001","items":[{"product_id":"coca-1l","qty":2,"price_bs":"5.00"}]}'
add caja-2 SaleCreated '{"sale_id":"B-0001","items":[{"product_id":"coca-1l","qty":1,"price_bs":"5.00"},{"product_id":"pan-1","qty":3,"price_bs":"1.50"}]}'
add caja-3 CustomerUpdated '{"customer_id":"c-42","name":"María Pérez","phone":"+58 412 555 0101"}'
t0=$(date +%s%N)
add caja-3 SaleCreated '{"sale_id":"C-0001","items":[{"product_id":"coca-1l","qty":6,"price_bs":"5.00"}],"customer_id":"c-42","on_credit":true}'
ms=$(wait_for_entity caja-1 sale C-0001 "$t0")
note "caja-3's sale is on caja-1 $ms ms later (seen by polling cajactl get;"
note "tools/bench/bench_lan measures it to the microsecond: BENCHMARKS.md)."
wait_converged 10
run --dir caja-2 get product coca-1l
for r in caja-1 caja-2 caja-3; do
	check "coca-1l stock on $r (48 - 2 - 1 - 6)" \
	    "$(field $r product coca-1l stock)" 39
done
check "balance of c-42 on caja-1 (6 x 5.00 on credit)" \
    "$(field caja-1 customer c-42 balance_bs)" "30.00"

say "A partition: caja-3 is cut off from the others"
note "Its agent is stopped and started again on its own (another port, no"
note "peers, its address book set aside): as if its cable were pulled. It"
note "keeps working; caja-1 and caja-2 see it go down."
stop_agent caja-3
mv caja-3/peers "$work/caja-3.peers"
"$CAJAD" --dir caja-3 -d --no-mdns --http off \
    --listen "tcp://127.0.0.1:$ALONE_PORT" >>"$work/caja-3.log" 2>&1 &
PID[caja-3]=$!
wait_agent caja-3
printf '$ cajad --dir caja-3 --listen tcp://127.0.0.1:%s   (alone, pid %s)\n' \
    "$ALONE_PORT" "${PID[caja-3]}"
echo '$ cajactl --dir caja-1 status    (its peers)'
peer_lines caja-1
check "caja-3 as caja-1 sees it" \
    "$(st caja-1 "[p['state'] for p in d['peers'] if p['name'] == 'caja-3'][0]")" down

say "During the partition: more sales, and two different prices"
add caja-2 SaleCreated '{"sale_id":"B-0002","items":[{"product_id":"pan-1","qty":10,"price_bs":"1.50"}]}'
add caja-3 SaleCreated '{"sale_id":"C-0002","items":[{"product_id":"coca-1l","qty":2,"price_bs":"5.00"}]}'
note "Head office phones caja-1 and caja-3 with a new price for coca-1l,"
note "and the two cashiers key in different ones:"
add caja-1 PriceChanged '{"product_id":"coca-1l","price_bs":"6.00"}'
add caja-3 PriceChanged '{"product_id":"coca-1l","price_bs":"5.50"}'
sleep 0.5
check "price on caja-2 (caja-1's only)" "$(field caja-2 product coca-1l price_bs)" "6.00"
check "price on caja-3 (its own)" "$(field caja-3 product coca-1l price_bs)" "5.50"
d1=$("$CTL" --dir caja-1 digest) d3=$("$CTL" --dir caja-3 digest)
note "digests now: caja-1 ${d1:0:16}..., caja-3 ${d3:0:16}... (different)"

say "The heal: caja-3 is back on the LAN"
stop_agent caja-3
mv "$work/caja-3.peers" caja-3/peers
t0=$(date +%s%N)
start_agent caja-3
wait_converged 30
note "All three hold the same events and state $(ms_since "$t0") ms after caja-3's"
note "agent started (equal digests):"
for r in caja-1 caja-2 caja-3; do
	note "  $r $("$CTL" --dir $r digest)"
done
for r in caja-1 caja-2 caja-3; do
	check "coca-1l stock on $r (39 - 2)" "$(field $r product coca-1l stock)" 37
	check "pan-1 stock on $r (100 - 3 - 10)" "$(field $r product pan-1 stock)" 87
done

say "The price conflict is on all three, with the same id"
note "No rule should pick one of two prices keyed in by people: caja keeps"
note "the latest by the clock (5.50) as provisional and asks a person."
run --dir caja-3 conflicts
cid=$("$CTL" --dir caja-1 conflicts --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin); d=d if isinstance(d, list) else d["conflicts"]; print(d[0]["conflict_id"])')
for r in caja-1 caja-2 caja-3; do
	check "pending conflict on $r" "$("$CTL" --dir $r conflicts --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin); d=d if isinstance(d, list) else d["conflicts"]; print(",".join(c["conflict_id"] for c in d))')" "$cid"
done

say "The manager resolves it from caja-2, at 5.75; all three settle"
t0=$(date +%s%N)
run --dir caja-2 resolve "${cid:0:8}" --value '"5.75"' --by gerente
wait_converged 10
note "(settled on all three in $(ms_since "$t0") ms)"
run --dir caja-1 get product coca-1l
for r in caja-1 caja-2 caja-3; do
	check "price on $r" "$(field $r product coca-1l price_bs)" "5.75"
	check "pending conflicts on $r" "$(field $r product coca-1l conflicts)" 0
done

say "Sales per register, and one digest for the whole store"
run --dir caja-3 totals
n_events=$(st caja-1 'd["events"]')
note "The store holds $n_events events; every register holds all of them."

# ---- the cloud ----
say "The store goes online: caja-1 uploads to the cloud"
if [ ! -x "$CLOUD" ] || ! "$PGSH" check || ! command -v psql >/dev/null; then
	echo "demo: caja-cloud, PostgreSQL or psql missing (run tools/deps.sh)" >&2
	exit 1
fi
note "A throw-away PostgreSQL (tests/support/pg.sh) and caja-cloud, the"
note "reference cloud, on 127.0.0.1. The store's admin enrolls the cloud:"
PG_DIR=$work/pg
DBURL=$("$PGSH" start "$PG_DIR")
note "PostgreSQL: $DBURL"
token=$("$CTL" --dir caja-1 invite --role cloud --expires 1h)
printf '$ cajactl --dir caja-1 invite --role cloud --expires 1h\n    %s...\n' "${token:0:30}"
printf '$ caja-cloud enroll --data cloud --token %s...\n' "${token:0:12}"
"$CLOUD" enroll --data "$work/cloud" --token "$token" --name head-office |
    sed 's/^/    /'
alloc_port; CPORT=$REPLY
"$CLOUD" serve --listen "127.0.0.1:$CPORT" --db "$DBURL" --data "$work/cloud" \
    >>"$work/cloud.log" 2>&1 &
CLOUD_PID=$!
printf '$ caja-cloud serve --listen 127.0.0.1:%s --db %s --data cloud  (pid %s)\n' \
    "$CPORT" "$DBURL" "$CLOUD_PID"
for i in $(seq 150); do
	"$PY" -c 'import sys, urllib.request as u; u.urlopen(sys.argv[1], timeout=1)' \
	    "http://127.0.0.1:$CPORT/health" 2>/dev/null && break
	kill -0 "$CLOUD_PID" 2>/dev/null || { echo "demo: caja-cloud exited" >&2; exit 1; }
	sleep 0.1
done
note "caja-1's agent is restarted with the cloud's URL (the others keep"
note "theirs: they have no internet in this story):"
stop_agent caja-1
t0=$(date +%s%N)
start_agent caja-1 --cloud "http://127.0.0.1:$CPORT"
ACKED='d["cloud"]["pending"] == 0 and all(d["cloud"]["acked_vector_clock"].get(k, 0) >= v for k, v in d["vector_clock"].items())'
for i in $(seq 300); do
	[ "$(st caja-1 "$ACKED")" = True ] && break
	sleep 0.1
done
check "everything caja-1 holds acknowledged by the cloud" "$(st caja-1 "$ACKED")" True
note "(uploaded and acknowledged $(ms_since "$t0") ms after caja-1's agent started)"
SID=$(st caja-1 'd["store_id"]')
Q="select device_id, count(*) as events, count(distinct event_id) as ids, min(seq), max(seq) from events where store_id = '$SID' group by 1 order by 1"
echo "\$ psql \"\$DBURL\" -c \"$Q\""
psql "$DBURL" -X -q -P footer=off -c "$Q" | sed 's/^/    /'
pg_n=$(psql "$DBURL" -X -q -t -A -c "select count(*) from events where store_id = '$SID'")
pg_d=$(psql "$DBURL" -X -q -t -A -c "select count(distinct event_id) from events where store_id = '$SID'")
n_events=$(st caja-1 'd["events"]')
note "(the store now holds $n_events events: the cloud's invitation and its"
note "enrollment, pulled from the cloud, are two more)"
check "events of the store in PostgreSQL, each once" "$pg_n/$pg_d" "$n_events/$n_events"
run --dir caja-1 devices
note "caja-2 and caja-3 never spoke to the cloud: they learn in gossip what"
note "it acknowledged, and who uploads."
for i in $(seq 100); do
	[ "$(st caja-2 "$ACKED")" = True ] && [ "$(st caja-3 "$ACKED")" = True ] && break
	sleep 0.1
done
echo '$ cajactl --dir caja-3 status    (its cloud lines)'
"$CTL" --dir caja-3 status | grep -E '^cloud(\.pending|\.uploader)? ' | sed 's/^/    /'
for r in caja-2 caja-3; do
	check "$r sees its events acknowledged" "$(st $r "$ACKED")" True
done
check "uploader as caja-3 sees it" "$(st caja-3 'd["cloud"]["uploader"]')" \
    "$(st caja-1 'd["device_id"]')"

printf '\n%sDone: %d checks passed in %d s.%s\n' "$B" "$checks" \
    $((($(date +%s%N) - T_START) / 1000000000)) "$N"
