package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// connLimitListener refuses a client's connections beyond max open at
// once, counted per remote IP address, so that one client (a bug, or a
// flood) cannot take every connection the sidecar can hold. A refused
// connection gets a 503 and is closed. Behind a reverse proxy every
// connection comes from the proxy's address: raise the limit there.
type connLimitListener struct {
	net.Listener
	max int
	// onLimit is called when a client first goes over the limit, not for
	// every refusal, so a flood does not flood the log.
	onLimit func(ip string)

	mu   sync.Mutex
	open map[string]*clientConns
}

type clientConns struct {
	n      int
	warned bool // onLimit was called since the client was last under the limit
}

// limitConns wraps ln; max ≤ 0 returns ln as is.
func limitConns(ln net.Listener, max int, onLimit func(ip string)) net.Listener {
	if max <= 0 {
		return ln
	}
	return &connLimitListener{Listener: ln, max: max, onLimit: onLimit, open: make(map[string]*clientConns)}
}

func (l *connLimitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c)
		if l.admit(ip) {
			return &limitedConn{Conn: c, release: func() { l.release(ip) }}, nil
		}
		go refuseConn(c, fmt.Sprintf("more than %d concurrent connections from %s", l.max, ip))
	}
}

func (l *connLimitListener) admit(ip string) bool {
	l.mu.Lock()
	cc := l.open[ip]
	if cc == nil {
		cc = &clientConns{}
		l.open[ip] = cc
	}
	if cc.n < l.max {
		cc.n++
		l.mu.Unlock()
		return true
	}
	first := !cc.warned
	cc.warned = true
	l.mu.Unlock()
	if first && l.onLimit != nil {
		l.onLimit(ip)
	}
	return false
}

func (l *connLimitListener) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cc := l.open[ip]
	cc.n--
	cc.warned = false
	if cc.n == 0 {
		delete(l.open, ip)
	}
}

// limitedConn gives its slot back once, however often it is closed.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

func remoteIP(c net.Conn) string {
	addr := c.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// refuseTimeout bounds the time a refused connection is held.
const refuseTimeout = time.Second

// refuseConn reads the request's head, answers 503 in the API's error
// shape and closes c. An answer written before the request would be an
// "unsolicited response" that HTTP clients drop. It closes its side for
// writing and reads on before closing, as net/http does, so that the
// client reads the 503 instead of a reset.
func refuseConn(c net.Conn, msg string) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(refuseTimeout))
	if _, err := http.ReadRequest(bufio.NewReader(io.LimitReader(c, 64<<10))); err != nil {
		return
	}
	body := fmt.Sprintf(`{"error":{"code":"too_many_connections","message":%q}}`+"\n", msg)
	_, err := fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	if err != nil {
		return
	}
	if tc, ok := c.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(c, 256<<10))
}
