package linkwatch

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// A Result's JSON has its durations in milliseconds, named _ms, and reads
// back to the nanosecond: storage keeps results in it.
func TestResultJSONRoundTrip(t *testing.T) {
	start := time.Date(2026, 11, 22, 12, 0, 0, 123456789, time.UTC)
	for _, d := range []time.Duration{0, 1, 999, 1234567, 80 * time.Millisecond, 30*time.Second + 7*time.Microsecond, 8*time.Second - 1, 90 * 24 * time.Hour} {
		r := Result{TargetID: "self:/acme/shop", Series: "self:/acme", Kind: TargetSelfCheck, URL: "http://127.0.0.1/acme/shop", Start: start,
			Latency: d, Status: StatusDegraded, StatusCode: 429, Cause: CauseRateLimited, Summary: "s", Error: "e", Fresh: true,
			Hops:     []Hop{{URL: "u", StatusCode: 302, Location: "l", NewConn: true, Resumed: true, Phases: Phases{DNS: d, Connect: d + 1, TLS: 2 * d, FirstByte: 3, Transfer: d / 3}}},
			FinalURL: "f", TLSExpiry: start.Add(time.Hour), BytesRead: 512, RetryAfter: d, SkippedUntil: start.Add(time.Minute)}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{`"latency_ms":`, `"retry_after_ms":`, `"dns_ms":`, `"first_byte_ms":`} {
			if d != 0 && !strings.Contains(string(b), name) {
				t.Errorf("%s lacks %s", b, name)
			}
		}
		if strings.Contains(string(b), `"latency":`) || strings.Contains(string(b), `"phases":`) {
			t.Errorf("nanoseconds written: %s", b)
		}
		var back Result
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, r) {
			t.Errorf("%s: read back\n%+v\nwant\n%+v", d, back, r)
		}
	}
}

// Results stored before the _ms fields (nanoseconds under unsuffixed
// names) still read.
func TestResultJSONReadsNanoseconds(t *testing.T) {
	var r Result
	err := json.Unmarshal([]byte(`{"target_id":"u","kind":"destination","url":"u","start":"2026-11-22T12:00:00Z","latency":1500000,`+
		`"status":"down","hops":[{"url":"u","new_conn":true,"resumed":true,"phases":{"dns":2000000,"connect":3500000,"tls":20000000,"first_byte":250000000,"transfer":1}}],`+
		`"bytes_read":7,"retry_after":30000000000,"fresh":true}`), &r)
	if err != nil {
		t.Fatal(err)
	}
	want := Result{TargetID: "u", Kind: TargetDestination, URL: "u", Start: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC), Latency: 1500 * time.Microsecond,
		Status: StatusDown, Hops: []Hop{{URL: "u", NewConn: true, Resumed: true, Phases: Phases{DNS: 2 * time.Millisecond, Connect: 3500 * time.Microsecond,
			TLS: 20 * time.Millisecond, FirstByte: 250 * time.Millisecond, Transfer: 1}}}, BytesRead: 7, RetryAfter: 30 * time.Second, Fresh: true}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("read\n%+v\nwant\n%+v", r, want)
	}
	if err := json.Unmarshal([]byte(`{"latency_ms":"1.5ms"}`), &r); err == nil {
		t.Error("a latency_ms that is no number was read")
	}
}
