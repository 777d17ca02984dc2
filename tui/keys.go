package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
)

// Action names something the dashboard does from the keyboard. Key files
// bind keys to actions by these names (see LoadKeyMap).
type Action string

// The actions, in the order the help lists them.
const (
	ActUp         Action = "up"
	ActDown       Action = "down"
	ActPageUp     Action = "page_up"
	ActPageDown   Action = "page_down"
	ActTop        Action = "top"
	ActBottom     Action = "bottom"
	ActDetail     Action = "detail"
	ActBack       Action = "back"
	ActFilter     Action = "filter"
	ActSortCost   Action = "sort_cost"
	ActSortRate   Action = "sort_rate"
	ActSortAge    Action = "sort_age"
	ActSortTokens Action = "sort_tokens"
	ActSortUser   Action = "sort_user"
	ActSortState  Action = "sort_state"
	ActCalls      Action = "calls"
	ActUsers      Action = "users"
	ActHistory    Action = "history"
	ActAgents     Action = "agents"
	ActHangUp     Action = "hangup"
	ActConfirm    Action = "confirm"
	ActHelp       Action = "help"
	ActQuit       Action = "quit"
)

// helpGroup is a column of the help screen.
type helpGroup int

const (
	groupMove helpGroup = iota
	groupFind
	groupViews
	groupAct
)

var groupTitles = [...]string{"Move", "Find and sort", "Views", "Act"}

// actionInfo describes an action for key files and the help.
type actionInfo struct {
	act   Action
	desc  string
	group helpGroup
	// dialog actions are matched only inside the hang-up dialog, so they
	// may share keys with the table's (enter opens a call's detail and
	// confirms a dialog).
	dialog bool
}

var actionInfos = []actionInfo{
	{ActUp, "up", groupMove, false},
	{ActDown, "down", groupMove, false},
	{ActPageUp, "page up", groupMove, false},
	{ActPageDown, "page down", groupMove, false},
	{ActTop, "first", groupMove, false},
	{ActBottom, "last", groupMove, false},
	{ActFilter, "filter", groupFind, false},
	{ActSortCost, "sort by cost", groupFind, false},
	{ActSortRate, "sort by $/min", groupFind, false},
	{ActSortAge, "sort by age", groupFind, false},
	{ActSortTokens, "sort by tokens", groupFind, false},
	{ActSortUser, "sort by user", groupFind, false},
	{ActSortState, "sort by state", groupFind, false},
	{ActDetail, "open", groupViews, false},
	{ActBack, "back / clear", groupViews, false},
	{ActCalls, "calls", groupViews, false},
	{ActUsers, "users", groupViews, false},
	{ActHistory, "history", groupViews, false},
	{ActAgents, "agents", groupViews, false},
	{ActHangUp, "hang up", groupAct, false},
	{ActConfirm, "confirm choice", groupAct, true},
	{ActHelp, "help", groupAct, false},
	{ActQuit, "quit", groupAct, false},
}

// KeyMap is every key the dashboard answers to, one binding per Action.
// The same bindings drive both matching in Update and the help, so the
// help can never list a key that does nothing or miss one that does, and
// a rebinding from a key file shows in the help at once.
type KeyMap struct {
	b map[Action]*key.Binding
}

// DefaultKeyMap returns the dashboard's keys. None is one that tmux
// (ctrl+b), screen (ctrl+a), ssh (~ after a newline) or the terminal's
// flow control (ctrl+s, ctrl+q) or job control (ctrl+z, ctrl+\) would
// swallow: arrows and vi keys move, shifted letters sort as in k9s,
// lower-case letters switch views, ctrl+k or x hangs up.
func DefaultKeyMap() KeyMap {
	k := KeyMap{b: make(map[Action]*key.Binding, len(actionInfos))}
	for a, keys := range defaultKeys {
		k.set(a, keys...)
	}
	return k
}

var defaultKeys = map[Action][]string{
	ActUp:         {"up", "k"},
	ActDown:       {"down", "j"},
	ActPageUp:     {"pgup", "ctrl+u"},
	ActPageDown:   {"pgdown", "ctrl+d", "ctrl+f"},
	ActTop:        {"home", "g"},
	ActBottom:     {"end", "G"},
	ActDetail:     {"enter"},
	ActBack:       {"esc"},
	ActFilter:     {"/"},
	ActSortCost:   {"C"},
	ActSortRate:   {"R"},
	ActSortAge:    {"A"},
	ActSortTokens: {"T"},
	ActSortUser:   {"U"},
	ActSortState:  {"S"},
	ActCalls:      {"c"},
	ActUsers:      {"u"},
	ActHistory:    {"h"},
	ActAgents:     {"a"},
	ActHangUp:     {"ctrl+k", "x"},
	ActConfirm:    {"enter"},
	ActHelp:       {"?"},
	ActQuit:       {"q"},
}

// swallowed lists keys a terminal multiplexer, ssh or the tty itself may
// eat before the dashboard sees them; no default binding uses one.
var swallowed = map[string]string{
	"ctrl+b":  "tmux prefix",
	"ctrl+a":  "screen prefix",
	"~":       "ssh escape after a newline",
	"ctrl+s":  "terminal flow control (XOFF)",
	"ctrl+q":  "terminal flow control (XON)",
	"ctrl+z":  "job control (suspend)",
	"ctrl+\\": "SIGQUIT",
}

// set binds keys to an action and regenerates its help entry from them.
func (k KeyMap) set(a Action, keys ...string) {
	info, ok := infoOf(a)
	if !ok {
		return
	}
	b := key.NewBinding(key.WithKeys(keys...), key.WithHelp(helpKeys(keys), info.desc))
	if len(keys) == 0 {
		b.Unbind()
	}
	k.b[a] = &b
}

func infoOf(a Action) (actionInfo, bool) {
	for _, i := range actionInfos {
		if i.act == a {
			return i, true
		}
	}
	return actionInfo{}, false
}

// Binding returns the binding of an action (a disabled one if unknown).
func (k KeyMap) Binding(a Action) key.Binding {
	if b, ok := k.b[a]; ok {
		return *b
	}
	return key.NewBinding(key.WithDisabled())
}

// Keys returns the keys bound to an action.
func (k KeyMap) Keys(a Action) []string { return k.Binding(a).Keys() }

// is reports whether a key press matches an action.
func (k KeyMap) is(msg interface{ String() string }, a Action) bool {
	b, ok := k.b[a]
	return ok && key.Matches(msg, *b)
}

// disable turns an action off (for --readonly): it neither matches nor
// shows in the help.
func (k KeyMap) disable(a Action) {
	if b, ok := k.b[a]; ok {
		c := *b
		c.SetEnabled(false)
		k.b[a] = &c
	}
}

// clone returns an independent copy, so disabling keys in one dashboard
// never changes a KeyMap the caller keeps.
func (k KeyMap) clone() KeyMap {
	c := KeyMap{b: make(map[Action]*key.Binding, len(k.b))}
	for a, b := range k.b {
		cp := *b
		c.b[a] = &cp
	}
	return c
}

// bindings returns the bindings of some actions, in order.
func (k KeyMap) bindings(acts ...Action) []key.Binding {
	out := make([]key.Binding, 0, len(acts))
	for _, a := range acts {
		out = append(out, k.Binding(a))
	}
	return out
}

// helpKeys renders keys for the help: at most two, with arrows for the
// arrow keys ("↑/k", "ctrl+k/x").
func helpKeys(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	show := keys[:min(2, len(keys))]
	out := make([]string, len(show))
	for i, s := range show {
		out[i] = prettyKey(s)
	}
	return strings.Join(out, "/")
}

func prettyKey(s string) string {
	switch s {
	case "up":
		return "↑"
	case "down":
		return "↓"
	case "left":
		return "←"
	case "right":
		return "→"
	case "pgdown":
		return "pgdn"
	}
	return s
}
