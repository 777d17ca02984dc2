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

// checkBaseURL refuses a base URL the agent could not use, without
// printing its credentials (a proxy's user:password@).
func checkBaseURL(base string) error {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--openai-base-url %s: want an http or https URL such as %s", feed.RedactURL(base), agent.DefaultBaseURL)
	}
	return nil
}
