package main

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/calltop/calltop/agent"
	"github.com/calltop/calltop/feed"
)

// checkToken trims the bearer token and refuses one that is only
// whitespace: HTTP trims a header value, so surrounding spaces could never
// match, and a blank token would look like protection and be none.
func checkToken(tok string) (string, error) {
	t := strings.TrimSpace(tok)
	if tok != "" && t == "" {
		return "", errors.New("--token (or CALLTOP_AGENT_TOKEN) is blank: set a secret such as $(openssl rand -hex 24), or leave it unset on a loopback --listen")
	}
	return t, nil
}

// parseNamedTokens reads NAME:SECRET tokens (the flag's values, or the
// comma list of CALLTOP_AGENT_TOKENS): each app or service gets its own,
// and a call it hangs up is recorded as ended by its name. Errors never
// print a secret.
func parseNamedTokens(all []string) (map[string]string, error) {
	out := map[string]string{}
	for i, v := range all {
		name, secret, ok := strings.Cut(strings.TrimSpace(v), ":")
		name, secret = strings.TrimSpace(name), strings.TrimSpace(secret)
		switch {
		case !ok || !validTokenName(name):
			return nil, fmt.Errorf("named token %d: want NAME:SECRET with a NAME of letters, digits, '_' or '-' (at most 32), such as billing:$(openssl rand -hex 24)", i+1)
		case secret == "":
			return nil, fmt.Errorf("named token %q: the secret is blank", name)
		case out[name] != "":
			return nil, fmt.Errorf("named token %q given twice", name)
		}
		out[name] = secret
	}
	return out, nil
}

func validTokenName(name string) bool {
	if name == "" || len(name) > 32 {
		return false
	}
	return feed.ValidateCallID(name) == nil // the same alphabet
}

// checkBaseURL refuses a base URL the agent could not use, without
// printing its credentials (a proxy's user:password@).
func checkBaseURL(base string) error {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--openai-base-url %s: want an http or https URL such as %s", feed.RedactURL(base), agent.DefaultBaseURL)
	}
	return nil
}
