package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/calltop/calltop/feed"
)

// The app's own view of its calls, for backends in any language: a call's
// status and cost by ID, a user's calls, and hanging one up. Everything is
// read from NATS, not from this agent's memory, so any sidecar of the
// fleet answers for a call any agent tracks (or tracked: ended calls come
// from their final records).

// apiWait bounds what one API request spends on NATS.
const apiWait = 10 * time.Second

// hangupWait bounds a hang-up by ID: OpenAI's hangup, retried on 429 and
// 5xx, plus the agent's close grace.
const hangupWait = 30 * time.Second

// handleStatus answers GET /v1/calls/{call_id}: the call as `calltop ls
// --json` prints it.
func (a *Agent) handleStatus(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("call_id")
	if err := feed.ValidateCallID(id); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_call_id", err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), apiWait)
	defer cancel()
	call, ok, err := a.feed.Lookup(ctx, id)
	switch {
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "nats_unavailable", err.Error())
	case !ok:
		writeError(w, http.StatusNotFound, "call_not_found", fmt.Sprintf("no call %s: never tracked, or ended long ago", id))
	default:
		writeJSON(w, http.StatusOK, call.Summarize(time.Now()))
	}
}

// listReply is the body of GET /v1/calls.
type listReply struct {
	Calls      []feed.Summary `json:"calls"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// handleList answers GET /v1/calls?user=U&state=live|ended&limit=N&cursor=C.
func (a *Agent) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	query := feed.ListQuery{User: q.Get("user"), State: feed.State(q.Get("state"))}
	if query.State == "" {
		query.State = feed.StateLive
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_limit", fmt.Sprintf("limit %q: want a number from 1 to %d", s, feed.MaxListLimit))
			return
		}
		query.Limit = n
	}
	if s := q.Get("cursor"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n == 0 {
			writeError(w, http.StatusBadRequest, "invalid_cursor", fmt.Sprintf("cursor %q: pass next_cursor from the previous page as it is", s))
			return
		}
		query.Cursor = n
	}
	ctx, cancel := context.WithTimeout(r.Context(), apiWait)
	defer cancel()
	calls, next, err := a.feed.List(ctx, query)
	switch {
	case errors.Is(err, feed.ErrBadQuery):
		writeError(w, http.StatusBadRequest, "invalid_query", err.Error())
		return
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "nats_unavailable", err.Error())
		return
	}
	now := time.Now()
	rep := listReply{Calls: make([]feed.Summary, 0, len(calls))}
	for i := range calls {
		rep.Calls = append(rep.Calls, calls[i].Summarize(now))
	}
	if next > 0 {
		rep.NextCursor = strconv.FormatUint(next, 10)
	}
	writeJSON(w, http.StatusOK, rep)
}

// hangupRequest is the optional body of POST /v1/calls/{call_id}/hangup.
type hangupRequest struct {
	Reason string `json:"reason"`
}

// handleHangup answers POST /v1/calls/{call_id}/hangup: it asks the
// call's owner, whichever agent that is, to hang up (over NATS, as
// `calltop kill` does) and answers with the ended call once OpenAI
// confirmed; the call ends "app", by the calling token's name.
func (a *Agent) handleHangup(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("call_id")
	if err := feed.ValidateCallID(id); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_call_id", err.Error())
		return
	}
	var req hangupRequest
	if !decodeOptionalJSON(w, r, &req, `{"reason":"…"} or nothing`) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), hangupWait)
	defer cancel()
	call, ok, err := a.feed.Lookup(ctx, id)
	switch {
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "nats_unavailable", err.Error())
		return
	case !ok:
		writeError(w, http.StatusNotFound, "call_not_found", fmt.Sprintf("no call %s: never tracked, or ended long ago", id))
		return
	case !call.Live():
		writeEnded(w, call)
		return
	}
	rep, err := a.feed.Terminate(ctx, feed.TerminateRequest{CallID: id, Reason: req.Reason, Operator: callerOf(r), EndReason: feed.ReasonApp})
	if errors.Is(err, feed.ErrNoOwner) {
		// Its owner may have ended it a moment ago, between the read and
		// the request: then it is a 409, not a retry.
		if again, ok, lerr := a.feed.Lookup(ctx, id); lerr == nil && ok && !again.Live() {
			writeEnded(w, again)
			return
		}
	}
	switch {
	case errors.Is(err, feed.ErrNoOwner):
		// Live, but its agent is gone and no other has adopted it yet
		// (within --adopt-after): asking again shortly reaches the new one.
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "no_owner", fmt.Sprintf("call %s: no agent owns it right now (its agent is gone; another adopts it within seconds): try again", id))
	case err != nil:
		writeError(w, http.StatusBadGateway, "hangup_failed", err.Error())
	case rep.Call == nil:
		writeJSON(w, http.StatusOK, call.Summarize(time.Now())) // an owner of an older version
	default:
		writeJSON(w, http.StatusOK, rep.Call)
	}
}

// writeEnded answers 409 for a call that had ended, with how.
func writeEnded(w http.ResponseWriter, call feed.Call) {
	writeJSON(w, http.StatusConflict, map[string]any{
		"error": map[string]string{"code": "call_ended", "message": fmt.Sprintf("call %s ended already (%s)", call.ID, call.End.Reason)},
		"call":  call.Summarize(time.Now()),
	})
}
