package alerting

import (
	"net/http"
	"time"

	"linkwatch/checker"
)

// classifyHTTP is the one retry rule for an HTTP answer from any channel:
// nil for 2xx; 410 Gone switches the channel off; 429 is retried after its
// Retry-After; 408, 3xx (redirects are not followed) and 5xx are retried;
// any other 4xx is the receiver refusing this payload, which no retry will
// change. err describes the answer and must be free of secrets; header may
// be nil.
func classifyHTTP(code int, header http.Header, now time.Time, err error) *SendError {
	se := &SendError{HTTPStatus: code, Err: err}
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusGone:
		se.Disable = true
	case code == http.StatusTooManyRequests:
		se.Retry = true
		se.RetryAfter = checker.ParseRetryAfter(header.Get("Retry-After"), now)
	case code >= 500, code >= 300 && code < 400, code == http.StatusRequestTimeout:
		se.Retry = true
	}
	return se
}
