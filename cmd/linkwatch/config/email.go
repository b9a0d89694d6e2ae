package config

import (
	"net"
	"strings"

	"linkwatch"
)

// EmailConfig is the SMTP server status page subscribers' mails go
// through (alerts.email). With it, /status and every /status/{page} offer
// a "Get updates by email" form (pages[].subscribe: false turns a page's
// off). The password should come from the environment: ${SMTP_PASSWORD}.
type EmailConfig struct {
	Host string `yaml:"host"`
	// Port defaults to the security's: 587 for starttls, 465 for tls, 25
	// for none.
	Port int `yaml:"port"`
	// Security is starttls (the default; required, never opportunistic),
	// tls (implicit TLS) or none (only for a relay on loopback).
	Security string `yaml:"security"`
	User     string `yaml:"user"`
	Password string `yaml:"password"`
	From     string `yaml:"from"`
	// StatusForm: false leaves the form off /status (every page's
	// subscription) while pages keep theirs.
	StatusForm *bool `yaml:"status_form"`
}

// defaultEmailPorts are the ports of each security, the one place they are set.
var defaultEmailPorts = map[string]int{"starttls": 587, "tls": 465, "none": 25}

func (e *EmailConfig) applyDefaults() {
	if e.Security == "" {
		e.Security = "starttls"
	}
	if e.Port == 0 {
		e.Port = defaultEmailPorts[e.Security]
	}
	if e.StatusForm == nil {
		on := true
		e.StatusForm = &on
	}
}

// validate checks alerts.email. Messages never repeat the password.
func (e *EmailConfig) validate(cerr *Error) {
	const p = "alerts.email"
	host := strings.TrimSuffix(e.Host, ".")
	switch {
	case host == "":
		cerr.add(p+".host", "is required: the SMTP server's name")
	case net.ParseIP(host) == nil && !validHostName(host):
		cerr.add(p+".host", "must be a host name or an IP address")
	}
	if _, known := defaultEmailPorts[e.Security]; !known {
		cerr.add(p+".security", "must be starttls, tls or none")
	} else if e.Security == "none" && !loopbackHost(host) {
		cerr.add(p+".security", "none sends mail and the password in the clear: only for a relay on loopback (localhost, 127.0.0.1, ::1); use starttls or tls")
	}
	if e.Port < 1 || e.Port > 65535 {
		cerr.add(p+".port", "must be from 1 to 65535")
	}
	if (e.User == "") != (e.Password == "") {
		cerr.add(p+".password", "user and password go together: set both, or neither for a server that needs no login")
	}
	if e.From == "" {
		cerr.add(p+".from", "is required: the address mails come from")
	} else if _, err := linkwatch.ParseEmailAddress(e.From); err != nil {
		cerr.add(p+".from", "must be a plain address such as status@example.com")
	}
}

// validHostName reports whether s is a DNS name: letters, digits and
// hyphens in dot-separated labels.
func validHostName(s string) bool {
	if len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func loopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// SubscribeOff returns the pages whose form is off, keyed by slug ("" for
// /status, every page's).
func (c *Config) SubscribeOff() map[string]bool {
	off := map[string]bool{}
	if e := c.Alerts.Email; e != nil && !*e.StatusForm {
		off[""] = true
	}
	for _, p := range c.Pages {
		if p.Subscribe != nil && !*p.Subscribe {
			off[p.Slug] = true
		}
	}
	return off
}
