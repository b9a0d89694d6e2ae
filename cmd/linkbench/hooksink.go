package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// hookSink receives the config file's webhooks, one path per channel
// (/hook/NAME), verifies each signature and logs each delivery: the
// receiver of linkbench chaos and system.
type hookSink struct {
	srv     *http.Server
	addr    string
	mu      sync.Mutex
	alerts  []alert
	bad     []string      // deliveries that failed verification or decoding
	arrived chan struct{} // closed, and replaced, at each delivery logged
}

func newHookSink(secret string) (*hookSink, error) {
	v, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &hookSink{addr: ln.Addr().String(), arrived: make(chan struct{})}
	s.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		channel := r.URL.Path[len("/hook/"):]
		if err == nil {
			err = v.Verify(raw, r.Header)
		}
		var body struct {
			Type string `json:"type"`
			Data struct {
				Incident struct {
					ID      int64    `json:"id"`
					Targets []string `json:"targets"`
				} `json:"incident"`
				Replica struct {
					ID string `json:"id"`
				} `json:"replica"`
			} `json:"data"`
		}
		if err == nil {
			err = json.Unmarshal(raw, &body)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			s.bad = append(s.bad, fmt.Sprintf("%s: %v", channel, err))
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.alerts = append(s.alerts, alert{at: time.Now(), channel: channel, id: r.Header.Get("webhook-id"), typ: body.Type,
			incident: body.Data.Incident.ID, targets: body.Data.Incident.Targets, replica: body.Data.Replica.ID})
		close(s.arrived)
		s.arrived = make(chan struct{})
	})}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *hookSink) log() ([]alert, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]alert(nil), s.alerts...), append([]string(nil), s.bad...)
}

// await returns the first delivery logged since after that match
// accepts, waiting for it until ctx ends.
func (s *hookSink) await(ctx context.Context, after time.Time, match func(alert) bool) (alert, error) {
	seen := 0
	for {
		s.mu.Lock()
		for ; seen < len(s.alerts); seen++ {
			if a := s.alerts[seen]; a.at.After(after) && match(a) {
				s.mu.Unlock()
				return a, nil
			}
		}
		arrived := s.arrived
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return alert{}, ctx.Err()
		case <-arrived:
		}
	}
}
