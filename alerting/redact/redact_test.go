package redact

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestEverySpellingOfASecretGoes(t *testing.T) {
	secret := "HTTPS://hooks.example:8443/services/T0KEN|ä?key=S3CRET"
	u, _ := url.Parse(secret)
	for _, spelling := range []string{secret, u.String(), strings.ToLower(secret), `"` + secret + `"`, "S3CRET"} {
		got := Err(errors.New("POST "+spelling+": 500"), secret).Error()
		for _, part := range []string{"T0KEN", "S3CRET"} {
			if strings.Contains(strings.ToUpper(got), part) {
				t.Errorf("%q redacted to %q: %s is still there", spelling, got, part)
			}
		}
	}
	if got := URL(secret); got != "https://hooks.example:8443/[redacted]" {
		t.Errorf("URL = %q, want the scheme, host and port only", got)
	}
	if got := String("nothing to hide", ""); got != "nothing to hide" {
		t.Errorf("String without secrets = %q", got)
	}
}
