package feed

import (
	"errors"
	neturl "net/url"
	"strings"
)

// RedactURL hides the credentials of a server URL for messages and logs
// and keeps every host visible. It takes what NATS takes: one URL or a
// comma-separated list (with or without spaces), each with or without a
// scheme, with user:password, a user or a token before '@':
//
//	nats://a:S1@h:1, c:S2@h:2   →   nats://xxxxx@h:1, xxxxx@h:2
//
// It does not parse: a password that is not percent-encoded (with '@',
// '/', '#' or ',' in it) is hidden too. Everything before the last '@' of
// an entry is credentials. A ',' splits entries, except that an entry
// without '@' followed by one with '@' and no scheme is taken for the
// start of a password with a comma in it, and both are hidden together:
// it may hide a host, never a secret.
func RedactURL(s string) string {
	out, _ := redactURL(s)
	return out
}

// redactURL is RedactURL that also returns the hidden credentials.
func redactURL(s string) (string, []string) {
	parts := strings.Split(s, ",")
	var (
		groups  []string
		secrets []string
	)
	for i := 0; i < len(parts); i++ {
		g := parts[i]
		for i+1 < len(parts) && !strings.Contains(g, "@") && strings.Contains(parts[i+1], "@") && !strings.Contains(parts[i+1], "://") {
			i++
			g += "," + parts[i]
		}
		red, secret := redactEntry(g)
		if secret != "" {
			secrets = append(secrets, secret)
		}
		groups = append(groups, red)
	}
	return strings.Join(groups, ","), secrets
}

// redactEntry hides what lies between the scheme (if any) and the last
// '@' of one entry, keeping its surrounding spaces.
func redactEntry(e string) (redacted, secret string) {
	at := strings.LastIndexByte(e, '@')
	if at < 0 {
		return e, ""
	}
	start := len(e) - len(strings.TrimLeft(e, " \t"))
	if i := strings.Index(e, "://"); i >= 0 && i < at {
		start = i + len("://")
	}
	return e[:start] + "xxxxx" + e[at:], e[start:at]
}

// redactErr keeps the credentials in url out of err's text. A URL that
// does not parse is reported without the parser's detail when it has
// credentials, since the detail quotes the URL or a piece of it.
func redactErr(url string, err error) error {
	_, secrets := redactURL(url)
	var uerr *neturl.Error
	if errors.As(err, &uerr) && strings.Contains(url, "@") {
		return &redactedError{msg: "not a valid URL (want [nats://][user:password@]host:port, comma-separated; percent-encode special characters in a password)", err: err}
	}
	// Credentials in a message are followed by their '@', as in the URL:
	// matching that keeps a short token from mangling the message.
	msg := err.Error()
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s+"@", "xxxxx@")
	}
	return &redactedError{msg: msg, err: err}
}

// redactedError is an error whose text has had credentials removed; it
// still unwraps to the original for errors.Is.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
