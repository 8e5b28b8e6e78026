#!/usr/bin/env bash
# The demo store: two registers of "Tienda Centro" on this machine, each with
# its own data dir and agent, reconciled by signed export files (the LAN comes
# with the next milestone). Shows sales, stock, an offline name edit settled
# by last-writer-wins, a price conflict surfaced to a person and resolved, a
# concurrent note merge, and equal digests at the end.
set -euo pipefail
build=${1:-build}
ctl="$build/cajactl"
cajad="$build/cajad"
work=$(mktemp -d /tmp/caja-demo.XXXXXX)
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

start_agent() {	# dir port
	"$cajad" --dir "$1" -d --no-mdns --listen "tcp://127.0.0.1:$2" \
	    --http off 2>"$1/cajad.log" &
	pids+=($!)
	for _ in $(seq 100); do
		[ -S "$1/ctl.sock" ] && "$ctl" --dir "$1" status >/dev/null 2>&1 &&
		    return 0
		sleep 0.05
	done
	echo "demo: agent in $1 did not start" >&2
	cat "$1/cajad.log" >&2
	exit 1
}

A="$work/caja-1"; B="$work/caja-2"
mkdir -p "$A" "$B"

say "A new store: register caja-1 creates it and holds the store key"
run "$ctl" --dir "$A" init --store "Tienda Centro" --name caja-1
start_agent "$A" 17701

say "caja-1 invites a second register; caja-2 joins with the token"
token=$("$ctl" --dir "$A" invite --expires 24h --role register)
echo "token: ${token:0:24}..."
run "$ctl" --dir "$B" join --token "$token" --name caja-2
start_agent "$B" 17702
# caja-2 learns the store's history (and its invitation) from caja-1.
"$ctl" --dir "$A" export --out "$work/a0.caja"
"$ctl" --dir "$B" import "$work/a0.caja"
"$ctl" --dir "$B" export --out "$work/b0.caja"
"$ctl" --dir "$A" import "$work/b0.caja"
run "$ctl" --dir "$A" devices

say "Catalogue and stock on caja-1"
run "$ctl" --dir "$A" append ProductUpdated --json '{"product_id":"coca-1l","name":"Coca Cola 1L","barcode":"7591234000012","active":true}'
run "$ctl" --dir "$A" append PriceChanged --json '{"product_id":"coca-1l","price_bs":"5.00"}'
run "$ctl" --dir "$A" append StockReceived --json '{"product_id":"coca-1l","qty":24}'
"$ctl" --dir "$A" export --out "$work/a1.caja"
"$ctl" --dir "$B" import "$work/a1.caja"

say "The internet and the LAN are down: both registers sell and edit offline"
run "$ctl" --dir "$A" append SaleCreated --json '{"sale_id":"A-0001","items":[{"product_id":"coca-1l","qty":2,"price_bs":"5.00"}]}'
run "$ctl" --dir "$A" append NoteEdited --json '{"sale_id":"A-0001","ops":[{"type":"INSERT","position":0,"text":"Entrega mañana"}]}'
"$ctl" --dir "$A" export --out "$work/a2.caja"; "$ctl" --dir "$B" import "$work/a2.caja" >/dev/null
run "$ctl" --dir "$B" append SaleCreated --json '{"sale_id":"B-0001","items":[{"product_id":"coca-1l","qty":1,"price_bs":"5.00"}],"customer_id":"c-42","on_credit":true}'
run "$ctl" --dir "$B" append CustomerUpdated --json '{"customer_id":"c-42","name":"María Pérez","phone":"+58 412 555 0101"}'
run "$ctl" --dir "$A" append ProductUpdated --json '{"product_id":"coca-1l","name":"Coca Cola 1L"}'
sleep 0.01
run "$ctl" --dir "$B" append ProductUpdated --json '{"product_id":"coca-1l","name":"Coca-Cola 1000ml"}'
run "$ctl" --dir "$A" append StockReceived --json '{"product_id":"coca-1l","qty":10}'
run "$ctl" --dir "$B" append StockAdjusted --json '{"product_id":"coca-1l","delta":-5}'
run "$ctl" --dir "$A" append NoteEdited --json '{"sale_id":"A-0001","ops":[{"type":"INSERT","position":14,"text":" 8am"}]}'
run "$ctl" --dir "$B" append NoteEdited --json '{"sale_id":"A-0001","ops":[{"type":"INSERT","position":14,"text":" a domicilio"}]}'
say "Head office calls both registers with a new price: they disagree"
run "$ctl" --dir "$A" append PriceChanged --json '{"product_id":"coca-1l","price_bs":"5.00"}'
run "$ctl" --dir "$B" append PriceChanged --json '{"product_id":"coca-1l","price_bs":"5.50"}'

say "A USB stick carries each register's events to the other"
run "$ctl" --dir "$A" export --out "$work/a3.caja"
run "$ctl" --dir "$B" export --out "$work/b3.caja"
run "$ctl" --dir "$B" import "$work/a3.caja"
run "$ctl" --dir "$A" import "$work/b3.caja"

say "Both registers now agree: name by last writer, stock by counting"
run "$ctl" --dir "$A" get product coca-1l
run "$ctl" --dir "$B" get product coca-1l
run "$ctl" --dir "$B" get sale A-0001
run "$ctl" --dir "$A" get customer c-42

say "The price is a conflict for a person to settle, pending on both"
run "$ctl" --dir "$A" conflicts
run "$ctl" --dir "$B" conflicts
cid=$("$ctl" --dir "$B" conflicts --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["conflict_id"])')
say "The manager settles it on caja-2 at 5.50"
run "$ctl" --dir "$B" resolve "$cid" --value '"5.50"' --by "gerente"
"$ctl" --dir "$B" export --out "$work/b4.caja"
run "$ctl" --dir "$A" import "$work/b4.caja"
run "$ctl" --dir "$A" conflicts
run "$ctl" --dir "$A" get product coca-1l

say "Sales totals per register, and one digest for the whole store"
run "$ctl" --dir "$A" totals
da=$("$ctl" --dir "$A" digest); db=$("$ctl" --dir "$B" digest)
echo "caja-1 digest: $da"
echo "caja-2 digest: $db"
if [ "$da" = "$db" ]; then
	echo "converged: both registers hold the same events and state"
else
	echo "demo: digests differ" >&2
	exit 1
fi
