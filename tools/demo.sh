#!/usr/bin/env bash
# The demo store: two registers of "Tienda Centro" on this machine, each with
# its own data dir and agent, not connected to each other (no mDNS, no
# peers): they reconcile by signed export files, as through a USB stick
# when the network is down. It tells what happens and checks it: sales and
# stock, an offline name edit settled by last-writer-wins, stock counted from
# both registers, a concurrent note merge, a price conflict shown on both and
# resolved on one, a tampered file refused, and equal digests at the end.
# Exit status 0 only if every check holds.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
CTL="$build/cajactl"
CAJAD="$build/cajad"
work=$(mktemp -d /tmp/caja-demo.XXXXXX)
pids=()
checks=0

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
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
# A field of `cajactl get ... --json`.
field() {	# dir kind id field
	"$CTL" --dir "$1" get "$2" "$3" --json | python3 -c \
	    'import json,sys; v=json.load(sys.stdin)[sys.argv[1]]; print(v if not isinstance(v, list) else len(v))' "$4"
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
# Carries the events one register has to the other, as a USB stick would.
ship() {	# from to
	"$CTL" --dir "$1" export --out "$work/$1.caja" >/dev/null
	printf '$ cajactl --dir %s export --out %s.caja; cajactl --dir %s import %s.caja\n' \
	    "$1" "$1" "$2" "$1"
	"$CTL" --dir "$2" import "$work/$1.caja" | sed 's/^/    /'
}
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
start_agent() {	# dir
	"$CAJAD" --dir "$1" -d --no-mdns --listen "tcp://127.0.0.1:$(free_port)" \
	    --http off 2>"$work/$1.log" &
	pids+=($!)
	for _ in $(seq 100); do
		[ -S "$1/ctl.sock" ] && "$CTL" --dir "$1" status >/dev/null 2>&1 &&
		    { note "(cajad started for $1, pid $!)"; return 0; }
		sleep 0.05
	done
	echo "demo: agent in $1 did not start" >&2
	cat "$work/$1.log" >&2
	exit 1
}

say "Two registers of one store, on this machine"
note "Each register has a data dir and its own agent (cajad). They are"
note "not connected (no mDNS, no peers): they reconcile through signed"
note "export files, as a USB stick carries them when the network is down."
note "Working in $work"

say "caja-1 creates the store: it holds the store key (the admin)"
run --dir caja-1 init --store "Tienda Centro" --name caja-1
start_agent caja-1

say "caja-1 invites a second register; caja-2 joins with the token"
token=$("$CTL" --dir caja-1 invite --expires 24h --role register)
printf '$ cajactl --dir caja-1 invite --expires 24h\n    %s...\n' "${token:0:30}"
printf '$ cajactl --dir caja-2 join --token %s... --name caja-2\n' "${token:0:12}"
"$CTL" --dir caja-2 join --token "$token" --name caja-2 | sed 's/^/    /'
start_agent caja-2
note "caja-2 learns the store's history (and its own invitation), and"
note "caja-1 learns of caja-2:"
ship caja-1 caja-2
ship caja-2 caja-1
run --dir caja-1 devices

say "caja-1 sets up the catalogue and receives stock; caja-2 gets a copy"
add caja-1 ProductUpdated '{"product_id":"coca-1l","name":"Coca Cola 1L","barcode":"7591234000012","active":true}'
add caja-1 PriceChanged '{"product_id":"coca-1l","price_bs":"5.00"}'
add caja-1 StockReceived '{"product_id":"coca-1l","qty":24}'
add caja-1 SaleCreated '{"sale_id":"A-0001","items":[{"product_id":"coca-1l","qty":2,"price_bs":"5.00"}]}'
add caja-1 NoteEdited '{"sale_id":"A-0001","ops":[{"type":"INSERT","position":0,"text":"Entrega mañana"}]}'
ship caja-1 caja-2
check "stock on caja-2 (24 received, 2 sold)" "$(field caja-2 product coca-1l stock)" 22

say "The network is down: both registers keep selling and editing"
note "caja-2 sells on credit to a customer it registers:"
add caja-2 SaleCreated '{"sale_id":"B-0001","items":[{"product_id":"coca-1l","qty":1,"price_bs":"5.00"}],"customer_id":"c-42","on_credit":true}'
add caja-2 CustomerUpdated '{"customer_id":"c-42","name":"María Pérez","phone":"+58 412 555 0101"}'
note "Both rename the product; caja-2 does it later (10:00, then 10:05):"
add caja-1 ProductUpdated '{"product_id":"coca-1l","name":"Coca Cola 1L"}'
sleep 0.02
add caja-2 ProductUpdated '{"product_id":"coca-1l","name":"Coca-Cola 1000ml"}'
note "caja-1 receives 10 more; caja-2 finds 5 broken and adjusts:"
add caja-1 StockReceived '{"product_id":"coca-1l","qty":10}'
add caja-2 StockAdjusted '{"product_id":"coca-1l","delta":-5}'
note "Both append to the note of sale A-0001 at its end; caja-1 first:"
add caja-1 NoteEdited '{"sale_id":"A-0001","ops":[{"type":"INSERT","position":14,"text":" 8am"}]}'
sleep 0.02
add caja-2 NoteEdited '{"sale_id":"A-0001","ops":[{"type":"INSERT","position":14,"text":" a domicilio"}]}'
note "Head office phones both with a new price, and they disagree:"
add caja-1 PriceChanged '{"product_id":"coca-1l","price_bs":"5.00"}'
add caja-2 PriceChanged '{"product_id":"coca-1l","price_bs":"5.50"}'
vc1=$("$CTL" --dir caja-1 status --json | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["vector_clock"]))')
vc2=$("$CTL" --dir caja-2 status --json | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["vector_clock"]))')
note "Vector clocks now (cajactl status): neither covers the other, so"
note "the two histories are concurrent:"
note "  caja-1 $vc1"
note "  caja-2 $vc2"

say "A USB stick carries each register's events to the other"
ship caja-1 caja-2
ship caja-2 caja-1

say "Both registers now show the same state"
run --dir caja-1 get product coca-1l
for r in caja-1 caja-2; do
	check "name on $r (the later edit wins)" \
	    "$(field $r product coca-1l name)" "Coca-Cola 1000ml"
	check "stock on $r (24 - 2 - 1 + 10 - 5)" \
	    "$(field $r product coca-1l stock)" 26
	check "note of A-0001 on $r (no text lost)" \
	    "$(field $r sale A-0001 note)" "Entrega mañana 8am a domicilio"
	check "balance of c-42 on $r (sale on credit)" \
	    "$(field $r customer c-42 balance_bs)" "5.00"
done

say "The two prices are a conflict for a person: pending on both"
note "Meanwhile the provisional price is the latest by the clock (5.50)."
run --dir caja-1 conflicts
run --dir caja-2 conflicts
for r in caja-1 caja-2; do
	check "pending conflicts on $r" \
	    "$(field $r product coca-1l conflicts)" 1
done
cid=$("$CTL" --dir caja-2 conflicts --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["conflict_id"])')

say "The manager settles it on caja-2, at 5.50; the stick carries it back"
run --dir caja-2 resolve "${cid:0:8}" --value '"5.50"' --by gerente
ship caja-2 caja-1
run --dir caja-1 conflicts --all
check "price on caja-1" "$(field caja-1 product coca-1l price_bs)" "5.50"
check "pending conflicts on caja-1" \
    "$(field caja-1 product coca-1l conflicts)" 0

say "A tampered export is refused, naming the event; the rest is kept"
"$CTL" --dir caja-2 export --out "$work/bad.caja" >/dev/null
python3 - "$work/bad.caja" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
b[-20] ^= 0x01      # one bit of the last event's signature
open(p, 'wb').write(b)
EOF
note "(one bit of the last event flipped)"
if run --dir caja-1 import bad.caja; then
	echo "demo: FAILED: the tampered file was accepted" >&2
	exit 1
fi
note "(exit status 2: something was refused)"

say "Sales per register, and one digest for the whole store"
run --dir caja-1 totals
da=$("$CTL" --dir caja-1 digest); db=$("$CTL" --dir caja-2 digest)
note "caja-1 digest: $da"
note "caja-2 digest: $db"
check "digests equal (same events, same state)" "$([ "$da" = "$db" ] &&
    echo equal || echo different)" equal
printf '\n%sDone: %d checks passed.%s\n' "$B" "$checks" "$N"
