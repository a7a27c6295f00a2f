package stripemock

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// Request is one request the recorder forwarded to stripe-mock.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	// Form is the decoded application/x-www-form-urlencoded body (nil for
	// other bodies); Body is the body as sent.
	Form url.Values
	Body string
}

// requestKey carries the recorded request to the answer's editor.
type requestKey struct{}

// recorder is a loopback reverse proxy that keeps each request it forwards.
type recorder struct {
	url  string
	srv  *http.Server
	ln   net.Listener
	done chan struct{}

	mu   sync.Mutex
	reqs []Request
}

func newRecorder(target string, answers func(Request, map[string]any)) (*recorder, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &recorder{url: "http://" + ln.Addr().String(), ln: ln, done: make(chan struct{})}
	proxy := httputil.NewSingleHostReverseProxy(u)
	if answers != nil {
		proxy.ModifyResponse = func(res *http.Response) error {
			raw, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				return err
			}
			var obj map[string]any
			if json.Unmarshal(raw, &obj) == nil && obj != nil {
				answers(res.Request.Context().Value(requestKey{}).(Request), obj)
				if raw, err = json.Marshal(obj); err != nil {
					return err
				}
			}
			res.Body = io.NopCloser(bytes.NewReader(raw))
			res.ContentLength = int64(len(raw))
			res.Header.Set("Content-Length", strconv.Itoa(len(raw)))
			return nil
		}
	}
	r.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, "stripemock recorder: "+err.Error(), http.StatusBadRequest)
			return
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		rec := Request{
			Method: req.Method,
			Path:   req.URL.Path,
			Query:  req.URL.Query(),
			Header: req.Header.Clone(),
			Body:   string(body),
		}
		if strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			rec.Form, _ = url.ParseQuery(string(body))
		}
		r.mu.Lock()
		r.reqs = append(r.reqs, rec)
		r.mu.Unlock()
		if answers != nil {
			req.Header.Del("Accept-Encoding") // answers are edited as plain JSON
		}
		proxy.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), requestKey{}, rec)))
	})}
	go func() {
		defer close(r.done)
		r.srv.Serve(ln)
	}()
	return r, nil
}

func (r *recorder) requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.reqs...)
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = nil
}

func (r *recorder) close() {
	r.srv.Close()
	<-r.done
}
