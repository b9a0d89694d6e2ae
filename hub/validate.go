package hub

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// maxURLLength keeps destinations within what browsers and proxies accept.
const maxURLLength = 2048

// ValidateSlug reports why s cannot be a page or link slug. The paths
// the server answers itself are not slugs either; the route table (in
// cmd/linkwatch/web) reserves them, as it is the one that knows them.
func ValidateSlug(s string) error {
	if s == "" {
		return errors.New("is required")
	}
	if !ValidSlug(s) {
		return errors.New("must be 1-64 lowercase letters, digits or inner hyphens")
	}
	return nil
}

// ValidSlug reports whether s has a slug's shape: 1 to 64 lowercase
// letters, digits or inner hyphens. The front handler asks it of every
// request's path, so it does not allocate.
func ValidSlug(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ValidateURL reports why raw cannot be a link destination: only absolute
// http(s) URLs with a host, no credentials and no control characters, since
// the URL ends up in a Location header and in probe requests.
func ValidateURL(raw string) error {
	if raw == "" {
		return errors.New("is required")
	}
	if len(raw) > maxURLLength {
		return fmt.Errorf("is longer than %d bytes", maxURLLength)
	}
	if i := strings.IndexFunc(raw, func(r rune) bool { return r < 0x20 || r == 0x7f || r == ' ' }); i >= 0 {
		return fmt.Errorf("has a control character or space at byte %d", i)
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("is not a valid URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("scheme must be http or https")
	}
	if u.User != nil {
		return errors.New("must not contain credentials (userinfo)")
	}
	if u.Hostname() == "" {
		return errors.New("must have a host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("has an invalid port %q", p)
		}
	}
	return nil
}

// ValidateFallback reports why raw cannot be the fallback of a link to
// dest: "" (none) is fine; otherwise it is a destination like any other,
// and not dest itself, which would send visitors back into the outage.
func ValidateFallback(raw, dest string) error {
	if raw == "" {
		return nil
	}
	if err := ValidateURL(raw); err != nil {
		return err
	}
	if raw == dest {
		return errors.New("must differ from the link's url")
	}
	return nil
}
