package alerting

import (
	"errors"
	"net/url"
	"strings"
)

// redactedURL keeps what is needed to tell endpoints apart (scheme and host)
// and drops the path and query, where webhook tokens live.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "[redacted URL]"
	}
	return u.Scheme + "://" + u.Host + "/[redacted]"
}

// scrub removes every secret from an error's text. Libraries put request
// URLs in their errors (url.Error does), and those URLs carry tokens.
func scrub(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return errors.New(msg)
}
