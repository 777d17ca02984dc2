package sshserve

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	"charm.land/wish/v2"
	bm "charm.land/wish/v2/bubbletea"

	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/tui"
)

// source joins a session's Watcher (events) and the shared Client
// (terminate, connection state) into what the dashboard reads.
type source struct {
	*feed.Watcher
	*feed.Client
}

// errIdle ends a session that had no input for the idle timeout.
var errIdle = errors.New("idle")

// dashboard is the middleware that runs one dashboard per session: it
// takes a session slot, finds the key's role, starts the session's
// Watcher and its idle timer, runs the program through wish's Bubble Tea
// middleware (which feeds it the window changes), and frees all of it
// when the program ends, however it ends.
func (s *Server) dashboard(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		if len(sess.Command()) > 0 {
			refuse(sess, "this server runs the dashboard only: ssh without a command")
			return
		}
		if err := s.acquire(); err != nil {
			s.log.Info("session refused", "from", sess.RemoteAddr().String(), "why", err)
			refuse(sess, err.Error())
			return
		}
		defer s.release()
		// The role comes from the key the connection authenticated with,
		// and the key files as they are now.
		key := sess.PublicKey()
		if key == nil {
			refuse(sess, "log in with a key")
			return
		}
		id, ok, _ := s.cfg.Keys.Lookup(key)
		if !ok {
			refuse(sess, "your key is not authorized (any more)")
			return
		}
		ctx, cancel := context.WithCancelCause(sess.Context())
		defer cancel(nil)
		defer context.AfterFunc(s.base, func() { cancel(context.Cause(s.base)) })()

		w, err := s.cfg.Feed.Watch(ctx)
		if err == nil {
			defer w.Stop()
		}
		switch {
		case errors.Is(context.Cause(ctx), errShutdown):
			refuse(sess, errShutdown.Error())
			return
		case ctx.Err() != nil:
			return // the client left
		case err != nil:
			s.log.Warn("session: cannot read the feed", "who", id.String(), "err", err)
			refuse(sess, "cannot read the feed now: try again later")
			return
		}
		var src tui.Source = source{w, s.cfg.Feed}
		opts := s.cfg.Dashboard
		opts.Operator = id.String()
		if id.Role != RoleOperator {
			opts.ReadOnly, opts.ReadOnlyWhy = true, "viewer key"
			src = tui.ReadOnlySource(src)
		}

		// The program is made by the Bubble Tea middleware's handler;
		// what ends the session early (idle, shutdown) asks it to quit,
		// so it restores the terminal before the reason is printed.
		var prog atomic.Pointer[tea.Program]
		quit := func() {
			if p := prog.Load(); p != nil {
				p.Quit()
			}
		}
		defer context.AfterFunc(ctx, quit)()
		act := newActivity(s.cfg.IdleTimeout, func() { cancel(errIdle) })
		defer act.stop()

		pty, _, _ := sess.Pty()
		started := time.Now()
		s.log.Info("session", "who", id.String(), "role", id.Role.String(), "from", sess.RemoteAddr().String(),
			"term", feed.Printable(pty.Term), "size", fmt.Sprintf("%dx%d", pty.Window.Width, pty.Window.Height))
		bm.MiddlewareWithProgramHandler(func(sess ssh.Session) *tea.Program {
			popts := append(bm.MakeOptions(sess), tea.WithFilter(act.filter))
			p := tui.NewProgram(ctx, src, opts, popts...)
			prog.Store(p)
			if ctx.Err() != nil {
				go p.Quit() // ended before the program existed
			}
			return p
		})(next)(sess)

		why := context.Cause(ctx)
		switch {
		case errors.Is(why, errIdle):
			wish.Errorf(sess, "calltop: disconnected after %s without input\r\n", s.cfg.IdleTimeout)
		case errors.Is(why, errShutdown):
			wish.Errorf(sess, "calltop: %s\r\n", errShutdown)
		}
		end := "quit"
		if why != nil {
			end = why.Error()
		}
		s.log.Info("session ended", "who", id.String(), "after", time.Since(started).Round(time.Second).String(), "why", end)
	}
}

// refuse tells the client why it gets no dashboard and ends the session
// with exit status 1.
func refuse(sess ssh.Session, why string) {
	wish.Errorf(sess, "calltop: %s\r\n", why)
	_ = sess.Exit(1)
}

// activity is a session's idle timer: input re-arms it; when it runs out,
// expire is called once.
type activity struct {
	limit  time.Duration
	last   atomic.Int64 // unix nanoseconds of the last input
	timer  *time.Timer
	expire func()
}

func newActivity(limit time.Duration, expire func()) *activity {
	a := &activity{limit: limit, expire: expire}
	a.last.Store(time.Now().UnixNano())
	if limit > 0 {
		a.timer = time.AfterFunc(limit, a.check)
	}
	return a
}

// check runs when the timer fires: it expires the session if no input
// came within the limit, or waits for the rest of it.
func (a *activity) check() {
	idle := time.Since(time.Unix(0, a.last.Load()))
	if idle >= a.limit {
		a.expire()
		return
	}
	a.timer.Reset(a.limit - idle)
}

func (a *activity) stop() {
	if a.timer != nil {
		a.timer.Stop()
	}
}

// filter sees every message before the dashboard does and counts what
// comes from the person at the other end as activity. It also does what
// wish's own filter (which it replaces) does: an SSH session cannot be
// suspended, so a suspend resumes at once.
func (a *activity) filter(_ tea.Model, msg tea.Msg) tea.Msg {
	switch msg.(type) {
	case tea.KeyPressMsg, tea.PasteMsg, tea.MouseMsg, tea.WindowSizeMsg:
		a.last.Store(time.Now().UnixNano())
	case tea.SuspendMsg:
		return tea.ResumeMsg{}
	}
	return msg
}
