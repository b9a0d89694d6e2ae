package linkwatch_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"linkwatch"
)

func TestParseEmailAddress(t *testing.T) {
	good := map[string]string{
		"ann@example.com":            "ann@example.com",
		" Ann.Lee+news@Example.COM ": "ann.lee+news@example.com",
		"a@b.co":                     "a@b.co",
	}
	for in, want := range good {
		if got, err := linkwatch.ParseEmailAddress(in); err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "ann", "@example.com", "ann@", "ann@example", "Ann <ann@example.com>", "ann@example.com (Ann)",
		"ann@[127.0.0.1]", "ann@exa mple.com", "ann@example.com\r\nBcc: x@y.example", "ann@exämple.com", "änn@example.com",
		"ann@-example.com", "a@b@example.com", "ann@example..com", strings.Repeat("a", 250) + "@example.com", "\"a b\"@example.com"} {
		got, err := linkwatch.ParseEmailAddress(bad)
		if err == nil {
			t.Errorf("%q accepted as %q", bad, got)
		} else if bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("%q: the error repeats the input: %v", bad, err)
		}
	}
}

func TestEmailTokens(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	s := linkwatch.EmailSubscriber{ID: 7, Key: linkwatch.NewEmailKey()}
	other := linkwatch.EmailSubscriber{ID: 7, Key: linkwatch.NewEmailKey()} // the id reused with another key
	confirm := linkwatch.NewEmailToken(s, linkwatch.TokenConfirm, now.Add(linkwatch.EmailConfirmFor))
	manage := linkwatch.NewEmailToken(s, linkwatch.TokenManage, time.Time{})
	for _, tc := range []struct {
		name  string
		token string
		sub   linkwatch.EmailSubscriber
		at    time.Time
		ok    bool
	}{
		{"confirm in time", confirm, s, now, true},
		{"confirm expired", confirm, s, now.Add(linkwatch.EmailConfirmFor), false},
		{"manage a year on", manage, s, now.AddDate(1, 0, 0), true},
		{"another key", manage, other, now, false},
		{"another id", manage, linkwatch.EmailSubscriber{ID: 8, Key: s.Key}, now, false},
	} {
		tok, err := linkwatch.ParseEmailToken(tc.token)
		if err == nil {
			err = tok.Verify(tc.sub, tc.at)
		}
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok %v", tc.name, err, tc.ok)
		}
	}
	// Tampering with any part breaks it.
	parts := strings.Split(confirm, ".")
	for i, p := range []string{"m." + strings.Join(parts[1:], "."), parts[0] + ".8." + strings.Join(parts[2:], "."),
		strings.Join(parts[:2], ".") + ".9999999999." + parts[3], confirm + "x", confirm[:len(confirm)-1]} {
		tok, err := linkwatch.ParseEmailToken(p)
		if err == nil && tok.Verify(s, now) == nil {
			t.Errorf("tampered token %d (%q) verifies", i, p)
		}
	}
	for _, bad := range []string{"", "c", "c.1.1", "c.1.0.AAAA", "m.1.5." + parts[3], "c.01.5." + parts[3], "c.-1.5." + parts[3], "x.1.5." + parts[3],
		"c.1.+5." + parts[3], strings.Repeat("c", 200)} {
		if _, err := linkwatch.ParseEmailToken(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestMailed(t *testing.T) {
	dest := linkwatch.Incident{Kind: linkwatch.KindDestination}
	for _, tc := range []struct {
		name     string
		a        linkwatch.Alert
		followed bool
		want     bool
	}{
		{"opened", linkwatch.Alert{Type: linkwatch.AlertOpened, Incident: dest}, false, true},
		{"resolved", linkwatch.Alert{Type: linkwatch.AlertResolved, Incident: dest}, true, true},
		{"posted update", linkwatch.Alert{Type: linkwatch.AlertUpdated, Reason: "update_posted", Update: &linkwatch.Update{Body: "x"}, Incident: dest}, true, true},
		{"acknowledged", linkwatch.Alert{Type: linkwatch.AlertUpdated, Reason: "acknowledged", Incident: dest}, true, false},
		{"cause changed", linkwatch.Alert{Type: linkwatch.AlertUpdated, Reason: "cause_changed", Incident: dest}, true, false},
		{"links joined, first heard of", linkwatch.Alert{Type: linkwatch.AlertUpdated, Reason: "target_added", Incident: dest}, false, true},
		{"links joined, known", linkwatch.Alert{Type: linkwatch.AlertUpdated, Reason: "target_added", Incident: dest}, true, false},
		{"prober offline", linkwatch.Alert{Type: linkwatch.AlertOpened, Incident: linkwatch.Incident{Kind: linkwatch.KindProberOffline}}, false, false},
		{"canary", linkwatch.Alert{Type: linkwatch.AlertOpened, Incident: linkwatch.Incident{Kind: linkwatch.KindCanary}}, false, false},
		{"subscription.verify", linkwatch.Alert{Type: linkwatch.AlertVerify, Incident: dest}, false, false},
		{"maintenance scheduled", linkwatch.Alert{Type: linkwatch.AlertMaintenanceScheduled, Maintenance: &linkwatch.Maintenance{Component: "page:acme"}}, false, true},
		{"maintenance cancelled, announced", linkwatch.Alert{Type: linkwatch.AlertMaintenanceCancelled, Maintenance: &linkwatch.Maintenance{Component: "page:acme"}}, true, true},
		{"maintenance cancelled, never announced", linkwatch.Alert{Type: linkwatch.AlertMaintenanceCancelled, Maintenance: &linkwatch.Maintenance{Component: "page:acme"}}, false, false},
	} {
		if got := linkwatch.Mailed(tc.a, tc.followed); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// FuzzParseEmailAddress: whatever is typed, an accepted address is in its
// stored form (parsing it again gives it back), bare, short enough, and
// free of anything that could end a header line.
func FuzzParseEmailAddress(f *testing.F) {
	for _, s := range []string{"ann@example.com", "Ann <ann@example.com>", "a@b", "ann@example.com\r\nBcc: x@y.z", "\"q\"@example.com", "ann@[::1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := linkwatch.ParseEmailAddress(s)
		if err != nil {
			return
		}
		if again, err := linkwatch.ParseEmailAddress(got); err != nil || again != got {
			t.Fatalf("%q -> %q -> %q, %v", s, got, again, err)
		}
		if len(got) > 254 || strings.ContainsAny(got, "\r\n <>,;\x00") || strings.Count(got, "@") < 1 {
			t.Fatalf("%q accepted as %q", s, got)
		}
	})
}

// FuzzParseEmailToken: no token parses unless it is in the one form
// NewEmailToken writes, and none verifies without the key.
func FuzzParseEmailToken(f *testing.F) {
	s := linkwatch.EmailSubscriber{ID: 3, Key: []byte("0123456789abcdef0123456789abcdef")}
	f.Add(linkwatch.NewEmailToken(s, linkwatch.TokenManage, time.Time{}))
	f.Add(linkwatch.NewEmailToken(s, linkwatch.TokenConfirm, time.Unix(2000000000, 0)))
	f.Add("c.1.0.AAAA")
	f.Add("m.3.0.")
	f.Fuzz(func(t *testing.T, raw string) {
		tok, err := linkwatch.ParseEmailToken(raw)
		if err != nil {
			return
		}
		again := strings.Join([]string{string(tok.Kind), itoa(tok.ID), itoa(tok.Expires)}, ".")
		if !strings.HasPrefix(raw, again+".") {
			t.Fatalf("%q parsed as %+v", raw, tok)
		}
		if tok.Verify(linkwatch.EmailSubscriber{ID: tok.ID, Key: []byte("another key, not the signer's...")}, time.Unix(0, 0)) == nil {
			t.Fatalf("%q verifies with a key that did not sign it", raw)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
