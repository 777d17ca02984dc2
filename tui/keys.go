package tui

import "charm.land/bubbles/v2/key"

// KeyMap is every key the dashboard answers to. The same bindings drive
// both matching in Update and the help in the footer, so the help can never
// list a key that does nothing or miss one that does.
type KeyMap struct {
	Up, Down         key.Binding
	PageUp, PageDown key.Binding
	Home, End        key.Binding
	HangUp           key.Binding // opens the confirmation for the selected call
	Confirm          key.Binding // confirms a hang-up; any other key cancels
	Close            key.Binding // closes a dialog or the help
	Help             key.Binding
	Quit             key.Binding
}

// DefaultKeyMap returns the dashboard's keys: arrows and vi keys to move,
// ctrl+k or x to hang up (as in k9s), ? for help, q or ctrl+c to quit.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+b"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+f"), key.WithHelp("pgdn", "page down")),
		Home:     key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("home/g", "first")),
		End:      key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("end/G", "last")),
		HangUp:   key.NewBinding(key.WithKeys("ctrl+k", "x"), key.WithHelp("ctrl+k/x", "hang up")),
		Confirm:  key.NewBinding(key.WithKeys("y", "Y"), key.WithHelp("y", "confirm hang-up")),
		Close:    key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "close")),
		Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}

// ShortHelp is the one-line key hint of the footer.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.HangUp, k.Help, k.Quit}
}

// FullHelp is the help shown by ?, one column per concern.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Home, k.End},
		{k.HangUp, k.Confirm, k.Close},
		{k.Help, k.Quit},
	}
}
