#!/bin/sh
# End-to-end test of the dashboard: builds the real binary, runs
# `calltop demo` (embedded NATS, the OpenAI stand-in, simulated calls, an
# agent, the dashboard) inside a private tmux server, and drives it with
# keys as an operator would: filter, sort, open a call's detail, hang it up
# with a typed reason, and check on screen that the call ended with that
# reason and the operator's name, in the table and in the History view.
#
# Usage: scripts/e2e.sh            (make e2e)
#   E2E_SIZE=80x24 scripts/e2e.sh  another terminal size (default 160x40)
#   E2E_KEEP=1                     leave the tmux server running on failure
#
# Skips (exit 0) with a message when tmux is not installed.
set -eu

if ! command -v tmux >/dev/null 2>&1; then
	echo "e2e: SKIP: tmux is not installed (apt-get install tmux), nothing was tested"
	exit 0
fi

cd "$(dirname "$0")/.."
GO=${GO:-go}
SIZE=${E2E_SIZE:-160x40}
W=${SIZE%x*}
H=${SIZE#*x}
BIN=bin/calltop
SOCK="calltop-e2e-$$"
SESSION=e2e
TMP=$(mktemp -d)

t() { tmux -L "$SOCK" "$@"; }

cleanup() {
	status=$?
	if [ "$status" -ne 0 ] && [ "${E2E_KEEP:-}" = 1 ]; then
		echo "e2e: tmux server kept: tmux -L $SOCK attach -t $SESSION"
	else
		t kill-server 2>/dev/null || true
		rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$SOCK"
	fi
	rm -rf "$TMP"
	exit "$status"
}
trap cleanup EXIT INT TERM

screen() { t capture-pane -p -t "$SESSION"; }

fail() {
	echo "e2e: FAIL: $*" >&2
	echo "---- screen ----" >&2
	screen >&2 || true
	echo "----------------" >&2
	exit 1
}

# wait_for PATTERN WHAT [SECONDS]: polls the screen until grep -E finds
# PATTERN.
wait_for() {
	i=0
	limit=$(( ${3:-15} * 5 ))
	while [ "$i" -lt "$limit" ]; do
		if screen | grep -Eq -- "$1"; then
			return 0
		fi
		sleep 0.2
		i=$((i + 1))
	done
	fail "no $2 on screen after ${3:-15}s (looked for /$1/)"
}

# keys KEY...: sends keys one at a time with a pause, so that esc and
# the next key are never read together as alt+key.
keys() {
	for k in "$@"; do
		t send-keys -t "$SESSION" "$k"
		sleep 0.3
	done
}

# text STRING: types a string literally.
text() {
	t send-keys -t "$SESSION" -l "$1"
	sleep 0.3
}

step() { echo "e2e: $*"; }

step "build $BIN"
$GO build -o "$BIN" ./cmd/calltop

step "start calltop demo in tmux at ${W}x${H}"
# A fresh HOME: no key file of the person running the test applies.
t -f /dev/null new-session -d -s "$SESSION" -x "$W" -y "$H" \
	"env -u XDG_CONFIG_HOME HOME=$TMP NO_COLOR= $PWD/$BIN demo --calls 16 2>$TMP/stderr; echo calltop exited \$?; sleep 30"
wait_for "NATS connected" "dashboard header"
wait_for '\$(0\.0[1-9]|0\.[1-9]|[1-9])' "a call with a cost" 30

step "filter: /!ended"
keys /
text '!ended'
keys Enter
wait_for "filter !ended" "the filter in the header"
screen | grep -Eq "ended (operator|policy|expired|hangup|gone|error)" && fail "ended calls still shown under !ended"

step "sort by cost: C"
keys C
wait_for "sort cost↓" "the cost sort"
wait_for "COST↓" "the sorted column's arrow"

step "open the most expensive call: enter"
keys g Enter
wait_for "^Call rtc_" "the call detail"
wait_for "Usage +uncached +cached +output" "the usage table"
CALL=$(screen | sed -n 's/^Call \(rtc_[A-Za-z0-9_-]*\).*/\1/p' | head -n 1)
[ -n "$CALL" ] || fail "no call ID in the detail"
step "  call $CALL"

step "hang it up from the detail: x, 5 (other), type a reason, enter"
keys x
wait_for "Cancel: keep the call" "the hang-up dialog"
screen | grep -q "$CALL" || fail "the dialog does not name $CALL"
keys 5
text "e2e check"
wait_for "other: e2e check" "the typed reason"
keys Enter
wait_for "hung up by you" "the agent's confirmation" 20
wait_for "ended operator" "the ended state in the detail" 20

step "back to the table, show just that call"
keys Escape Escape
wait_for "CALLS" "the calls table"
keys /
text "$CALL"
keys Enter
wait_for "1/[0-9]+ shown" "the filtered table"
PREFIX=$(printf %.12s "$CALL")
ROW=$(screen | grep -E "^(> |  )$PREFIX" | head -n 1)
echo "$ROW" | grep -q "ended operator" || fail "the row of $CALL does not say ended operator: $ROW"
echo "$ROW" | grep -q "e2e check" || fail "the row of $CALL lacks the reason: $ROW"

step "history shows reason and operator"
keys h
wait_for "HISTORY" "the history view"
HROW=$(screen | grep -E "^(> |  ).*$PREFIX" | head -n 1)
echo "$HROW" | grep -q "operator" || fail "history row lacks the reason operator: $HROW"
echo "$HROW" | grep -q "e2e check" || fail "history row lacks the operator's words: $HROW"
echo "$HROW" | grep -Eq "[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+" || fail "history row lacks who: $HROW"

step "quit: q"
keys q
wait_for "calltop exited 0" "a clean exit" 10
if [ -s "$TMP/stderr" ]; then
	echo "e2e: stderr of calltop:" >&2
	cat "$TMP/stderr" >&2
fi
echo "e2e: PASS ($SIZE)"
