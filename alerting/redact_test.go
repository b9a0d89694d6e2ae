package alerting_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"linkwatch"
	"linkwatch/alerting"
)

// refusingDial fails every connection the way a real dial does, naming the
// address: no request leaves the process.
func refusingDial(_ context.Context, network, addr string) (net.Conn, error) {
	return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("connect %s: connection refused", addr)}
}

type noThreads struct{}

func (noThreads) ThreadRef(context.Context, int64, string) (string, error) { return "", nil }
func (noThreads) SetThreadRef(context.Context, int64, string, string) error {
	return nil
}

// sinkErrors sends one alert through every sink configured with a secret
// token in a URL spelt as scheme://host/...token, and returns the error
// text each produced (construction or send).
func sinkErrors(t *testing.T, scheme, host, token string) map[string]string {
	t.Helper()
	out := map[string]string{}
	note := func(name string, err error) {
		if err != nil {
			out[name] = err.Error()
		}
	}
	d := alerting.Delivery{ID: 1, Alert: testAlert(1, linkwatch.AlertOpened)}
	slackURL := scheme + "://" + host + "/services/T0/B0/" + token
	if s, err := alerting.NewSlack(alerting.SlackOptions{WebhookURL: slackURL, Dial: refusingDial}); err != nil {
		note("slack webhook: new", err)
	} else {
		note("slack webhook: send", s.Send(context.Background(), d))
	}
	if s, err := alerting.NewSlack(alerting.SlackOptions{BotToken: "xoxb-" + token, Channel: "#ops", Threads: noThreads{},
		APIURL: scheme + "://" + host + "/api/", Dial: refusingDial}); err != nil {
		note("slack bot: new", err)
	} else {
		note("slack bot: send", s.Send(context.Background(), d))
	}
	if w, err := alerting.NewWebhook("ops", scheme+"://"+host+"/hooks/"+token+"?sig="+token, testSecret, refusingDial); err != nil {
		note("webhook: new", err)
	} else {
		note("webhook: send", w.Send(context.Background(), d))
	}
	if s, err := alerting.NewSentry(alerting.SentryOptions{DSN: scheme + "://" + token + "@" + host + "/42", Dial: refusingDial}); err != nil {
		note("sentry: new", err)
	} else {
		note("sentry: send", s.Send(context.Background(), d))
		s.Close()
	}
	return out
}

// spellings are the forms a token can take in error text.
func spellings(token string) []string {
	q := strconv.Quote(token)
	aq := strconv.QuoteToASCII(token)
	return []string{token, url.PathEscape(token), url.QueryEscape(token), q[1 : len(q)-1], aq[1 : len(aq)-1]}
}

// FuzzSinkErrorsRedactSecrets feeds URL spellings (scheme case, "|",
// non-ASCII, control characters, odd hosts) through each sink's error path:
// no spelling of the token may reach the error, which is what logs, the
// admin API and the delivery log show. Seeds: testdata/fuzz.
func FuzzSinkErrorsRedactSecrets(f *testing.F) {
	f.Add("https", "hooks.example", "XXXXSECRETXXXXTOKEN")
	f.Add("HTTP", "hooks.example", "XXXXSECRETXXXXTOKEN")
	f.Add("hTtPs", "HOOKS.example", "secret|with|pipes")
	f.Add("http", "hooks.example", "sécrèt-non-ascii")
	f.Fuzz(func(t *testing.T, scheme, host, token string) {
		// A token is one path segment: long enough that finding it is a
		// leak, not a coincidence with the sink's own words.
		if len(token) < 9 || len(token) > 200 || !utf8.ValidString(token) || strings.ContainsAny(token, "/?#%@:\\") ||
			strings.Contains(strings.ToLower(token), "redacted") || len(scheme) > 10 || len(host) > 100 {
			return
		}
		control := sinkErrors(t, scheme, host, "Zq9Zq9Zq9Zq9Zq9")
		for name, msg := range sinkErrors(t, scheme, host, token) {
			for _, form := range spellings(token) {
				lower := strings.ToLower(form)
				if strings.Contains(strings.ToLower(control[name]), lower) {
					continue // the sink's own text, whatever the token
				}
				if strings.Contains(strings.ToLower(msg), lower) {
					t.Errorf("%s: error leaks the token as %q: %s", name, form, msg)
				}
			}
		}
	})
}

// The spellings that leaked before every form was redacted.
func TestSlackWebhookSecretInEverySpelling(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ scheme, token string }{
		{"HTTP", "XXXXSECRETXXXXTOKEN"},
		{"https", "secret|with|pipes"},
		{"https", "sécrèt-non-ascii"},
	} {
		for name, msg := range sinkErrors(t, tc.scheme, "hooks.example", tc.token) {
			for _, form := range spellings(tc.token) {
				if strings.Contains(strings.ToLower(msg), strings.ToLower(form)) {
					t.Errorf("%s (%s://…/%s): error leaks %q: %s", name, tc.scheme, tc.token, form, msg)
				}
			}
		}
	}
}
