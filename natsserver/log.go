package natsserver

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// lineLogger writes the server's log to w, one line per entry with its
// time and level, as nats-server's own logger does. Entries quote what
// clients send (their names, subjects), so control characters become
// '?': a log on a terminal cannot be rewritten by a client.
type lineLogger struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineLogger) log(level, format string, v ...any) {
	line := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, fmt.Sprintf(format, v...))
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s [%s] %s\n", time.Now().Format("2006/01/02 15:04:05.000000"), level, line)
}

func (l *lineLogger) Noticef(format string, v ...any) { l.log("INF", format, v...) }
func (l *lineLogger) Warnf(format string, v ...any)   { l.log("WRN", format, v...) }
func (l *lineLogger) Fatalf(format string, v ...any)  { l.log("FTL", format, v...) }
func (l *lineLogger) Errorf(format string, v ...any)  { l.log("ERR", format, v...) }
func (l *lineLogger) Debugf(format string, v ...any)  { l.log("DBG", format, v...) }
func (l *lineLogger) Tracef(format string, v ...any)  { l.log("TRC", format, v...) }
