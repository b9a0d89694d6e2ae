// Package redact takes secrets out of what an alert channel says about
// itself (errors, logs): a webhook URL, token or DSN in every spelling an
// error can give it, keeping the host and port so endpoints stay apart.
package redact

import (
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// URL keeps what is needed to tell endpoints apart (scheme and host)
// and drops the path and query, where webhook tokens live.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "[redacted URL]"
	}
	return strings.ToLower(u.Scheme) + "://" + u.Host + "/[redacted]"
}

// Err removes every secret from an error's text, in every spelling it
// can take there. Libraries put request URLs in their errors, and not as
// configured: url.Error prints the parsed and re-serialised URL (scheme
// lowercased, "|" and non-ASCII percent-encoded) inside %q, which escapes
// again. So each secret is matched as written, re-serialised, quoted, and,
// for a URL, by each path segment, query value and credential that can
// hold a token, case-insensitively. The result no longer wraps err: its
// chain still holds the unredacted text, so classify before scrubbing.
func Err(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	return errors.New(String(err.Error(), secrets...))
}

// String is Err for a string: the one place secrets are taken out of text.
func String(msg string, secrets ...string) string {
	var forms []string
	for _, s := range secrets {
		forms = append(forms, secretForms(s)...)
	}
	if len(forms) == 0 {
		return msg
	}
	// Longest first, so a whole URL goes before the segments inside it.
	slices.SortFunc(forms, func(a, b string) int { return len(b) - len(a) })
	for _, f := range slices.Compact(forms) {
		msg = replaceFold(msg, f, "[redacted]")
	}
	return msg
}

// replaceFold replaces every occurrence of old in s, ignoring ASCII case
// (schemes and hosts change case on the way into an error). It works on
// bytes, so invalid UTF-8 in either is matched as it is.
func replaceFold(s, old, repl string) string {
	ls, lold := lowerASCII(s), lowerASCII(old)
	var b strings.Builder
	for {
		i := strings.Index(ls, lold)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(repl)
		s, ls = s[i+len(old):], ls[i+len(old):]
	}
}

// lowerASCII lowercases ASCII letters only, keeping every byte's offset.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// minSecretForm is the shortest text treated as a secret: shorter forms
// would redact ordinary words out of error messages.
const minSecretForm = 4

// secretForms returns the spellings of a secret that can appear in error
// text.
func secretForms(s string) []string {
	if len(s) < minSecretForm {
		return nil
	}
	var out []string
	add := func(f string) {
		for _, v := range []string{f, quoteInner(f), asciiQuoteInner(f)} {
			if len(v) >= minSecretForm {
				out = append(out, v)
			}
		}
	}
	add(s)
	u, err := url.Parse(strings.TrimSpace(s))
	host, port := "", ""
	if err == nil {
		host, port = u.Hostname(), u.Port()
		add(u.String())
		add(u.Redacted())
		if u.User != nil {
			add(u.User.String())
			add(u.User.Username())
			if p, ok := u.User.Password(); ok {
				add(p)
			}
		}
	}
	// A token is often a path segment (Slack's /services/T…/B…/secret) or
	// a query value. However the URL parses, or fails to, each piece
	// between delimiters that could be a token is one, decoded and
	// escaped; the host and port are kept, to tell endpoints apart.
	pieces := strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune("/?#&=;:@", r) })
	for _, piece := range pieces {
		if !secretLike(piece) || strings.EqualFold(piece, host) || piece == port {
			continue
		}
		add(piece)
		add(url.PathEscape(piece))
		add(url.QueryEscape(piece))
		if dec, err := url.PathUnescape(piece); err == nil {
			add(dec)
			add(url.PathEscape(dec))
			add(url.QueryEscape(dec))
		}
	}
	return out
}

// secretLike says whether a path segment or query value could be a token:
// long, or holding digits or capitals. Short lowercase words ("services",
// "api", "hooks") are kept, so errors stay readable.
func secretLike(s string) bool {
	if len(s) >= 9 {
		return true
	}
	return len(s) >= minSecretForm && strings.ContainsFunc(s, func(r rune) bool {
		return !unicode.IsLower(r) && r != '-' && r != '_' && r != '.'
	})
}

// quoteInner is s as %q prints it, without the quotes.
func quoteInner(s string) string { q := strconv.Quote(s); return q[1 : len(q)-1] }

// asciiQuoteInner is s as %+q prints it, without the quotes.
func asciiQuoteInner(s string) string { q := strconv.QuoteToASCII(s); return q[1 : len(q)-1] }
