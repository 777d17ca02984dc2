package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/calltop/calltop/agent"
)

// notifyFlags are the sidecar's webhook settings: where to post, the
// signing secret, which events.
type notifyFlags struct {
	urls   []string
	secret string
	events string
}

func (n *notifyFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&n.urls, "notify-url", nil, "post final records (call.ended) to your app as signed webhooks at this `URL`; repeat for several (docs/AGENT.md, Webhooks)")
	fs.StringVar(&n.secret, "notify-secret", "", "signing secret of the webhooks, whsec_ + base64 of 24 bytes or more")
	env(fs, "notify-secret", "CALLTOP_NOTIFY_SECRET")
	fs.StringVar(&n.events, "notify-events", agent.NotifyEnded, "comma-separated webhook events: call.ended, call.flagged, call.warning, call.refused")
}

// config is the agent's notify config, nil without --notify-url. Its
// errors name the flag to fix and never quote the secret.
func (n *notifyFlags) config(fs *pflag.FlagSet) (*agent.NotifyConfig, error) {
	if len(n.urls) == 0 {
		for _, name := range []string{"notify-secret", "notify-events"} {
			if fs.Changed(name) {
				return nil, fmt.Errorf("--%s without --notify-url: say where to post the webhooks", name)
			}
		}
		return nil, nil
	}
	cfg := &agent.NotifyConfig{URLs: n.urls, Secret: n.secret}
	for _, ev := range strings.Split(n.events, ",") {
		if ev = strings.TrimSpace(ev); ev != "" {
			cfg.Events = append(cfg.Events, ev)
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, notifyFlagError(err)
	}
	return cfg, nil
}

// notifyFlagError names the flag behind one of agent's notify errors.
func notifyFlagError(err error) error {
	msg := err.Error()
	for _, m := range []struct{ prefix, flag string }{
		{"notify secret: ", "--notify-secret (or CALLTOP_NOTIFY_SECRET): "},
		{"notify URL ", "--notify-url "},
		{"notify events: ", "--notify-events: "},
	} {
		if rest, ok := strings.CutPrefix(msg, m.prefix); ok {
			return errors.New(m.flag + rest)
		}
	}
	return err
}
