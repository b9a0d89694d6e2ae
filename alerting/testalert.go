package alerting

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"linkwatch"
)

// TestAnswer is what a channel's receiver answered a test alert.
type TestAnswer struct {
	Channel string
	// Status is the HTTP status of the receiver's last answer (0: it gave
	// none: no connection, a timeout).
	Status int
	// Body is the start of that answer, as the receiver wrote it (control
	// characters dropped).
	Body string
	// Err is why the test failed, free of secrets; nil: delivered.
	Err error
}

// OK reports whether the receiver took the test alert.
func (a TestAnswer) OK() bool { return a.Err == nil }

// String is the answer on one line: what the receiver said, and the
// verdict.
func (a TestAnswer) String() string {
	var b strings.Builder
	if a.Status != 0 {
		fmt.Fprintf(&b, "HTTP %d %s", a.Status, http.StatusText(a.Status))
		if a.Body != "" {
			fmt.Fprintf(&b, ": %s", a.Body)
		}
	} else {
		b.WriteString("no answer")
	}
	if a.Err != nil {
		fmt.Fprintf(&b, " (failed: %v)", a.Err)
	}
	return b.String()
}

// maxAnswerBody is how much of a receiver's answer a test keeps.
const maxAnswerBody = 300

// TestAlert is the alert a test sends: an incident.updated with reason
// test, and a title that says so, about no incident (id 0), so no
// receiver can take it for one.
func TestAlert(now time.Time) linkwatch.Alert {
	now = now.UTC()
	return linkwatch.Alert{
		EventID: "test_" + strings.ToLower(rand.Text()), Type: linkwatch.AlertUpdated, Reason: linkwatch.ReasonTest, CreatedAt: now,
		Incident: linkwatch.Incident{
			Key: "test", Title: "linkwatch test alert: not an incident, nothing to do",
			Summary:   "An operator sent this test to check that alerts reach this channel. No link is down.",
			Status:    linkwatch.StatusInvestigating,
			Impact:    linkwatch.ImpactNone,
			StartedAt: now, UpdatedAt: now,
		},
	}
}

// SendTest sends a test alert through sink the way every alert goes (its
// own Send, with its signature, client and SSRF guard), but straight
// rather than through the outbox, and returns what its receiver answered.
// linkwatch test-alert and the console's "send test" both call it.
func SendTest(ctx context.Context, sink Sink, now time.Time) TestAnswer {
	rec := &answer{}
	err := sink.Send(context.WithValue(ctx, answerKey{}, rec), Delivery{Alert: TestAlert(now)})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return TestAnswer{Channel: sink.Name(), Status: rec.status, Body: strings.TrimSpace(printable(rec.body.String())), Err: err}
}

// answerKey is the context key of the answer a test records.
type answerKey struct{}

// answer is the last HTTP answer of a test's requests.
type answer struct {
	mu     sync.Mutex
	status int
	body   strings.Builder
}

// answerRecorder is the outbound client's transport: when the request's
// context asks (a test), it records the receiver's status and the start
// of its body as the sink reads it; otherwise it only passes through.
type answerRecorder struct{ *http.Transport }

func (t answerRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.Transport.RoundTrip(req)
	if rec, ok := req.Context().Value(answerKey{}).(*answer); ok && err == nil {
		rec.mu.Lock()
		rec.status = resp.StatusCode
		rec.body.Reset()
		rec.mu.Unlock()
		resp.Body = &recordedBody{ReadCloser: resp.Body, rec: rec}
	}
	return resp, err
}

// recordedBody copies the first maxAnswerBody bytes read into its answer.
type recordedBody struct {
	io.ReadCloser
	rec *answer
}

func (b *recordedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.rec.mu.Lock()
	if room := maxAnswerBody - b.rec.body.Len(); room > 0 {
		b.rec.body.Write(p[:min(n, room)])
	}
	b.rec.mu.Unlock()
	return n, err
}

// printable drops control characters and invalid UTF-8 from a receiver's
// answer, which is printed to a terminal or shown in a page.
func printable(s string) string {
	s = strings.ToValidUTF8(s, "")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t' || r == '\r':
			return ' '
		case r < ' ' || r == 0x7f || r >= 0x80 && r < 0xa0 || r == '\u2028' || r == '\u2029':
			return -1
		}
		return r
	}, s)
}

// Tester sends test alerts through the configured channels by name: the
// console's "send test" (serve's sinks, the ones test-alert tests).
type Tester struct {
	sinks map[string]Sink
	now   func() time.Time
}

// NewTester returns a Tester of sinks, whose test alerts are dated by now.
func NewTester(sinks []Sink, now func() time.Time) *Tester {
	t := &Tester{sinks: make(map[string]Sink, len(sinks)), now: now}
	for _, s := range sinks {
		t.sinks[s.Name()] = s
	}
	return t
}

// Testable reports whether channel is one of the configured sinks (a
// subscription's or a visitor's channel is not: its receiver is theirs).
func (t *Tester) Testable(channel string) bool {
	_, ok := t.sinks[channel]
	return ok
}

// SendTest sends a test alert through channel and returns what its
// receiver answered; false if channel is not a configured sink.
func (t *Tester) SendTest(ctx context.Context, channel string) (TestAnswer, bool) {
	s, ok := t.sinks[channel]
	if !ok {
		return TestAnswer{}, false
	}
	return SendTest(ctx, s, t.now()), true
}
