package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/coffer-vault/coffer/internal/store"
)

// streamPoll is how often a live stream looks at its session. Reading the
// session (not an in-process signal) works across server instances, and a
// read also settles a session whose card holder finished 3-D Secure.
const streamPoll = 250 * time.Millisecond

// streamMaxAge bounds one connection: a session lives at most a day.
const streamMaxAge = 25 * time.Hour

// sessionStream is GET /v1/sessions/{id}/stream: a WebSocket that sends the
// session object now and on every change, and closes once the session is
// final. It takes the secret key (or a restricted key with sessions:read),
// or — from a browser, which cannot set headers on a WebSocket — the
// session's client_secret in the query.
func (a sessionHandlers) sessionStream(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var m *store.Merchant
	if key, ok := bearer(r); ok && (strings.HasPrefix(key, "sk_") || strings.HasPrefix(key, "rk_")) {
		mm, ok := a.authenticate(w, r, key, "sessions:read") // the scope routes.go names
		if !ok {
			return
		}
		m = mm
	} else {
		mm, err := a.svc.SessionSecretAuth(r.Context(), id, r.URL.Query().Get("client_secret"))
		if err != nil {
			writeError(w, &apiError{status: 401, Type: "authentication_error", Code: "client_secret_invalid",
				Message: "Send the secret key (Authorization: Bearer sk_…) or the session's client_secret."})
			return
		}
		m = mm
	}
	// Every change is an event in the outbox: the stream sends them in
	// order, so none is lost between two looks. It starts after the last
	// event so far, with the session as it is now.
	var lastSeq int64
	for {
		evs, err := a.svc.SessionEvents(r.Context(), m.ID, id, lastSeq)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if len(evs) == 0 {
			break
		}
		lastSeq = evs[len(evs)-1].Seq
	}
	v, err := a.svc.GetSession(r.Context(), m.ID, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	// The server's read/write timeouts suit requests, not a stream that
	// lives as long as its session.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	// Any origin may connect: the credential is the secret, never a cookie,
	// so a cross-site page gains nothing it did not already hold.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept has answered the client
	}
	defer conn.CloseNow()
	ctx, cancel := context.WithTimeout(conn.CloseRead(context.WithoutCancel(r.Context())), streamMaxAge)
	defer cancel()
	send := func(b []byte) error {
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		defer wcancel()
		return conn.Write(wctx, websocket.MessageText, b)
	}
	v.ClientSecret = ""
	first, err := json.Marshal(v)
	if err != nil || send(first) != nil {
		return
	}
	status := v.Status
	tick := time.NewTicker(streamPoll)
	defer tick.Stop()
	for !final(status) {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		// Reading the session settles a 3-D Secure outcome nobody has
		// looked at yet (and writes its event).
		if _, err := a.svc.GetSession(ctx, m.ID, id); err != nil {
			conn.Close(websocket.StatusInternalError, "session unavailable")
			return
		}
		evs, err := a.svc.SessionEvents(ctx, m.ID, id, lastSeq)
		if err != nil {
			conn.Close(websocket.StatusInternalError, "session unavailable")
			return
		}
		for _, e := range evs {
			if err := send(e.Data); err != nil {
				return
			}
			lastSeq = e.Seq
			var s struct {
				Status string `json:"status"`
			}
			if json.Unmarshal(e.Data, &s) == nil && s.Status != "" {
				status = s.Status
			}
			if final(status) {
				break
			}
		}
	}
	conn.Close(websocket.StatusNormalClosure, "session "+status)
}

func final(status string) bool {
	switch status {
	case store.SessionSucceeded, store.SessionFailed, store.SessionExpired, store.SessionCanceled:
		return true
	}
	return false
}
