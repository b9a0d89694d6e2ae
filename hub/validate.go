package hub

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// reservedPageSlugs are first path segments the server itself answers.
var reservedPageSlugs = map[string]bool{
	"status": true, "api": true, "badge": true, "healthz": true, "readyz": true,
	"static": true, "admin": true, "history.atom": true, "favicon.ico": true, "robots.txt": true,
}

// reservedLinkSlugs are second path segments the server answers under a page.
var reservedLinkSlugs = map[string]bool{"qr": true}

var slugPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$`)

// maxURLLength keeps destinations within what browsers and proxies accept.
const maxURLLength = 2048

// ValidatePageSlug reports why s cannot be a page slug.
func ValidatePageSlug(s string) error {
	if err := validateSlug(s); err != nil {
		return err
	}
	if reservedPageSlugs[s] {
		return fmt.Errorf("%q is reserved", s)
	}
	return nil
}

// ValidateLinkSlug reports why s cannot be a link slug.
func ValidateLinkSlug(s string) error {
	if err := validateSlug(s); err != nil {
		return err
	}
	if reservedLinkSlugs[s] {
		return fmt.Errorf("%q is reserved", s)
	}
	return nil
}

func validateSlug(s string) error {
	if s == "" {
		return errors.New("is required")
	}
	if !slugPattern.MatchString(s) {
		return errors.New("must be 1-64 lowercase letters, digits or inner hyphens")
	}
	return nil
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
