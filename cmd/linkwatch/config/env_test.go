package config

import (
	"strings"
	"testing"
)

// A bad value that came from ${NAME} is never quoted, not even in part:
// the error names the field and the variable (a bad duration or CIDR from
// the environment was once quoted whole).
func TestValuesFromTheEnvironmentAreNeverQuoted(t *testing.T) {
	env := map[string]string{
		"IV":     "tenSECRET1",
		"PROXY":  "10.0.0.0/99SECRET2",
		"NET":    "SECRET3",
		"HOST":   "shop.example:99999SECRET4",
		"SLUG":   "status",
		"DRIVER": "mysqlSECRET5",
		"REGION": "EU_SECRET6",
		"TOKEN":  "short-SECRET7",
		"WARN":   "-3hSECRET8",
	}
	_, err := Parse(t.Context(), []byte(`
server:
  trusted_proxies: ["${PROXY}"]
  admin_token: ${TOKEN}
storage: {driver: "${DRIVER}"}
probe:
  interval: ${IV}
  tls_warn: ${WARN}
  region: ${REGION}
  allow_private: ["127.0.0.1/32", "${NET}"]
pages:
  - slug: ${SLUG}
    links:
      - {slug: go, url: "https://${HOST}/x"}
`), "t.yaml", func(k string) string { return env[k] })
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	if strings.Contains(msg, "SECRET") {
		t.Errorf("an error quotes a value from the environment:\n%v", msg)
	}
	for _, want := range []string{
		`probe.interval: "${IV}" is not a duration (use e.g. 10s, 5m, 48h) (the value comes from ${IV})`,
		`probe.tls_warn: "${WARN}" is not a duration`,
		`server.trusted_proxies[0]: "${PROXY}" is not a CIDR such as 10.0.0.0/8 (the value comes from ${PROXY})`,
		`probe.allow_private[1]: "${NET}" is not a CIDR`,
		`pages[0].links[0].url: is not a valid URL: invalid port "https://${HOST}/x" after host (the value comes from ${HOST})`,
		`pages[0].slug: "${SLUG}" is reserved: linkwatch serves /${SLUG} itself (the value comes from ${SLUG})`,
		`storage.driver: must be sqlite or postgres, not "${DRIVER}" (the value comes from ${DRIVER})`,
		`probe.region: "${REGION}" must be 1 to 32`,
		`server.admin_token: must be at least 16 characters (the value comes from ${TOKEN})`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("errors lack %s:\n%v", want, msg)
		}
	}
	// The same values written in the file are the user's to see.
	_, err = Parse(t.Context(), []byte("probe: {interval: tenSECRET1}\n"+validPages), "t.yaml", noEnv)
	if err == nil || !strings.Contains(err.Error(), `probe.interval: "tenSECRET1" is not a duration (use e.g. 10s, 5m, 48h)`) ||
		strings.Contains(err.Error(), "comes from") {
		t.Errorf("a value in the file: %v", err)
	}
}
