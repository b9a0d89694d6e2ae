package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// slackAPI is Slack's Web API (under /api/) and an interaction's
// response_url on loopback, as serve's bot mode and Slack actions call
// them: it keeps every call, and answers each as Slack answers a message
// posted to #ops.
type slackAPI struct {
	srv   *httptest.Server
	mu    sync.Mutex
	calls []slackCall
}

// slackCall is one request to slackAPI.
type slackCall struct {
	path string
	form url.Values // a form-encoded body (the Web API's chat methods), else nil
	body string     // the body as sent, or the form as fmt prints it
}

func newSlackAPI(t *testing.T) *slackAPI {
	t.Helper()
	s := &slackAPI{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c := slackCall{path: r.URL.Path, body: string(b)}
		if v, err := url.ParseQuery(c.body); err == nil && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			c.form, c.body = v, fmt.Sprint(v)
		}
		s.mu.Lock()
		s.calls = append(s.calls, c)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true,"channel":"C0OPS","ts":"1700000000.000100"}`)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// got returns the Web API's calls as "method thread_ts text": the
// method, the thread replied to (empty outside a thread) and the text.
func (s *slackAPI) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.calls {
		if method, ok := strings.CutPrefix(c.path, "/api/"); ok {
			out = append(out, method+" "+c.form.Get("thread_ts")+" "+c.form.Get("text"))
		}
	}
	return out
}

// find reports whether a call's path is path and its body holds every
// one of want.
func (s *slackAPI) find(path string, want ...string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
next:
	for _, c := range s.calls {
		if c.path != path {
			continue
		}
		for _, w := range want {
			if !strings.Contains(c.body, w) {
				continue next
			}
		}
		return true
	}
	return false
}
