package sensepass

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
)

const (
	// socketPoll is how often a socket looks at its session. Reading the
	// session (not an in-process signal) works across server instances,
	// and a read also settles a session whose card holder finished 3-D
	// Secure.
	socketPoll = 250 * time.Millisecond
	// socketMaxAge bounds one connection: a session lives at most a day.
	socketMaxAge = 25 * time.Hour
	// socketAuthWait is how long a client that did not authenticate in its
	// headers has to send its credentials as the first message.
	socketAuthWait = 10 * time.Second
	// socketReadLimit bounds what a client may send: its credentials.
	socketReadLimit = 4 << 10
	socketWriteWait = 10 * time.Second
	// socketRecheck is how often, between sends, a socket checks that its
	// credentials still hold; before each send it checks anyway.
	socketRecheck = time.Second
)

// Socket is a WebSocket that pushes the Transaction entity now and on
// every change of the session, and closes once the session is final:
// GET /transactions/{transactionNumber}/socket. The client authenticates
// with an apiKey or deviceId header, or else with its first message,
// {"apiKey":"…"} or {"deviceId":"…"}, within 10 seconds. The credentials
// are checked again before every send and at least every second: once the
// key is revoked (or the secret key rolled) the socket closes with 1008 and
// sends nothing more. A plain HTTP request (no WebSocket upgrade) answers
// 426 in the dialect's error shape.
func (d *Dialect) Socket(w http.ResponseWriter, r *http.Request) {
	number, m, c, ok := d.socketPreflight(w, r)
	if !ok {
		return
	}
	// The server's read/write timeouts suit requests, not a stream that
	// lives as long as its session; the socket bounds itself.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	// Any origin may connect: the credential is a key, never a cookie, so a
	// cross-site page gains nothing it did not already hold.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept has answered the client
	}
	defer conn.CloseNow()
	conn.SetReadLimit(socketReadLimit)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), socketMaxAge)
	defer cancel()
	if m == nil {
		if m, c = d.socketAuth(ctx, conn); m == nil {
			return
		}
	}
	s := &socket{d: d, conn: conn, ctx: ctx, m: m, c: c, number: number, checked: time.Now()}
	s.serve()
}

// socketPreflight answers, in plain HTTP, what can be refused before the
// upgrade: once upgraded, errors can only be close codes. m is nil when the
// client did not authenticate in its headers.
func (d *Dialect) socketPreflight(w http.ResponseWriter, r *http.Request) (number string, m *store.Merchant, c credentials, ok bool) {
	if !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Upgrade", "websocket")
		writeError(w, newError(http.StatusUpgradeRequired, "websocket_required",
			"This endpoint is a WebSocket: connect with a WebSocket client (Upgrade: websocket)."))
		return "", nil, credentials{}, false
	}
	number = r.PathValue("transactionNumber")
	if !isSession(number) {
		writeError(w, newError(http.StatusNotFound, "resource_missing", "%s", notFoundMessage("")))
		return "", nil, credentials{}, false
	}
	c = headerCredentials(r)
	if c.APIKey != "" || c.DeviceID != "" {
		var ae *apiError
		if m, ae = d.authenticate(r.Context(), c); ae != nil {
			writeError(w, ae)
			return "", nil, credentials{}, false
		}
		if v, err := d.svc.GetSession(r.Context(), m.ID, number); err != nil || !ours(v) {
			if err == nil {
				err = newError(http.StatusNotFound, "resource_missing", "%s", notFoundMessage(""))
			}
			d.fail(w, r, "socket", err)
			return "", nil, credentials{}, false
		}
	}
	return number, m, c, true
}

// socket is one authenticated connection following one session.
type socket struct {
	d      *Dialect
	conn   *websocket.Conn
	ctx    context.Context
	m      *store.Merchant
	c      credentials
	number string
	// checked is when c last authenticated.
	checked time.Time
	// lastSeq is the last session event sent (or skipped).
	lastSeq int64
	// name is the status name last sent, for the closing reason.
	name string
}

// serve sends the session as it is now, then each change until it is final.
func (s *socket) serve() {
	if !s.skipPastEvents() {
		return
	}
	v, err := s.d.svc.GetSession(s.ctx, s.m.ID, s.number)
	if err != nil || !ours(v) {
		if err == nil || isNotFound(err) {
			s.conn.Close(websocket.StatusPolicyViolation, "transaction not found")
		} else {
			s.conn.Close(websocket.StatusInternalError, "transaction unavailable")
		}
		return
	}
	s.ctx = s.conn.CloseRead(s.ctx) // from here on the client only listens
	if !s.send(&v) {
		return
	}
	if !s.follow(v.Status) {
		return
	}
	s.conn.Close(websocket.StatusNormalClosure, "transaction "+s.name)
}

// skipPastEvents moves lastSeq past every event so far: the session as it
// is now stands for them. On failure it closes the socket and reports false.
func (s *socket) skipPastEvents() bool {
	// Every change is an event in the outbox: the socket sends them in
	// order, so none is lost between two looks. It starts after the last
	// event so far, with the session as it is now.
	for {
		evs, err := s.d.svc.SessionEvents(s.ctx, s.m.ID, s.number, s.lastSeq)
		if err != nil {
			s.conn.Close(websocket.StatusInternalError, "transaction unavailable")
			return false
		}
		if len(evs) == 0 {
			return true
		}
		s.lastSeq = evs[len(evs)-1].Seq
	}
}

// follow sends each change after lastSeq until the session is final, and
// reports whether it got there (false: the socket is closed or gone).
func (s *socket) follow(status string) bool {
	tick := time.NewTicker(socketPoll)
	defer tick.Stop()
	for !final(status) {
		select {
		case <-s.ctx.Done():
			return false
		case <-tick.C:
		}
		if !s.recheck(false) {
			return false
		}
		// Reading the session settles a 3-D Secure outcome nobody has
		// looked at yet (and writes its event).
		if _, err := s.d.svc.GetSession(s.ctx, s.m.ID, s.number); err != nil {
			s.conn.Close(websocket.StatusInternalError, "transaction unavailable")
			return false
		}
		evs, err := s.d.svc.SessionEvents(s.ctx, s.m.ID, s.number, s.lastSeq)
		if err != nil {
			s.conn.Close(websocket.StatusInternalError, "transaction unavailable")
			return false
		}
		for _, e := range evs {
			s.lastSeq = e.Seq
			var ev payment.SessionView
			if json.Unmarshal(e.Data, &ev) != nil || ev.Status == "" {
				continue
			}
			if !s.send(&ev) {
				return false
			}
			if status = ev.Status; final(status) {
				break
			}
		}
	}
	return true
}

// recheck authenticates c again (at most every socketRecheck unless
// forced); on failure it closes the socket and reports false.
func (s *socket) recheck(force bool) bool {
	if !force && time.Since(s.checked) < socketRecheck {
		return true
	}
	fresh, ae := s.d.authenticate(s.ctx, s.c)
	switch {
	case s.ctx.Err() != nil:
		return false // the client left, or the connection is too old
	case ae != nil && ae.status == http.StatusServiceUnavailable:
		s.conn.Close(websocket.StatusTryAgainLater, "credentials could not be checked")
		return false
	case ae != nil || fresh.ID != s.m.ID:
		s.conn.Close(websocket.StatusPolicyViolation, "unauthorized")
		return false
	}
	s.m, s.checked = fresh, time.Now()
	return true
}

// send writes v as the Transaction entity, checking the credentials first
// so a revoked key receives nothing more.
func (s *socket) send(v *payment.SessionView) bool {
	if !s.recheck(true) {
		return false
	}
	t, err := s.d.sessionEntity(s.ctx, s.m, v, true)
	if err != nil {
		return false
	}
	s.name = t.StatusName
	b, err := json.Marshal(t)
	if err != nil {
		return false
	}
	wctx, wcancel := context.WithTimeout(s.ctx, socketWriteWait)
	defer wcancel()
	return s.conn.Write(wctx, websocket.MessageText, b) == nil
}

// socketAuth reads the first message's credentials; on failure it closes
// the socket and returns nil.
func (d *Dialect) socketAuth(ctx context.Context, conn *websocket.Conn) (*store.Merchant, credentials) {
	actx, cancel := context.WithTimeout(ctx, socketAuthWait)
	defer cancel()
	typ, b, err := conn.Read(actx)
	if err != nil {
		conn.Close(websocket.StatusPolicyViolation, "send {\"apiKey\":…} or {\"deviceId\":…} first")
		return nil, credentials{}
	}
	var c credentials
	if typ != websocket.MessageText || decodeJSON(b, &c) != nil {
		conn.Close(websocket.StatusPolicyViolation, "send {\"apiKey\":…} or {\"deviceId\":…} first")
		return nil, credentials{}
	}
	m, ae := d.authenticate(actx, c)
	if ae != nil {
		conn.Close(websocket.StatusPolicyViolation, "unauthorized")
		return nil, credentials{}
	}
	return m, c
}

// headerHasToken reports whether a comma-separated header holds token
// (case-insensitively), as an HTTP upgrade is tested.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func final(status string) bool {
	switch status {
	case store.SessionSucceeded, store.SessionFailed, store.SessionExpired, store.SessionCanceled:
		return true
	}
	return false
}
