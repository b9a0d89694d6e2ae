package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"linkwatch"
	"linkwatch/cmd/linkwatch/web"
	"linkwatch/hub"
)

// PageConfig is one link page.
type PageConfig struct {
	Slug        string       `yaml:"slug"`
	Title       string       `yaml:"title"`
	Description string       `yaml:"description"`
	Links       []LinkConfig `yaml:"links"`
	// Subscribe: false turns the email subscription form off this page's
	// status page (it is on wherever alerts.email is set).
	Subscribe *bool `yaml:"subscribe"`
}

// LinkConfig is one short link on a page.
type LinkConfig struct {
	Slug  string `yaml:"slug"`
	Title string `yaml:"title"`
	URL   string `yaml:"url"`
	// Fallback is where visitors go while URL is down (an open incident,
	// outside maintenance), unless it is down too. It is checked like any
	// destination.
	Fallback string        `yaml:"fallback"`
	Expect   *ExpectConfig `yaml:"expect"`
}

// ExpectConfig is what a healthy destination answers, beyond any 2xx.
type ExpectConfig struct {
	Status       []int  `yaml:"status"`        // accepted final status codes
	BodyContains string `yaml:"body_contains"` // text the body must contain (soft-404 detection)
	FinalHost    string `yaml:"final_host"`    // host the redirect chain must end on
}

// validatePages checks the pages and their links: slugs, URLs, fallbacks
// and expectations, each against the hub's own rules.
func (c *Config) validatePages(cerr *Error) {
	if len(c.Pages) == 0 {
		cerr.add("pages", "at least one page is required")
	}
	destAt := map[string]string{} // url -> path of the first link with it
	pageAt := map[string]int{}
	for i, p := range c.Pages {
		pp := fmt.Sprintf("pages[%d]", i)
		if err := pageSlugError(p.Slug); err != nil {
			cerr.add(pp+".slug", "%v", err)
		} else if j, dup := pageAt[p.Slug]; dup {
			cerr.add(pp+".slug", "%q is already used by pages[%d]", p.Slug, j)
		} else {
			pageAt[p.Slug] = i
		}
		linkAt := map[string]int{}
		for j, l := range p.Links {
			lp := fmt.Sprintf("%s.links[%d]", pp, j)
			if err := linkSlugError(l.Slug); err != nil {
				cerr.add(lp+".slug", "%v", err)
			} else if k, dup := linkAt[l.Slug]; dup {
				cerr.add(lp+".slug", "%q is already used by %s.links[%d]", l.Slug, pp, k)
			} else {
				linkAt[l.Slug] = j
			}
			if err := hub.ValidateURL(l.URL); err != nil {
				cerr.add(lp+".url", "%v", err)
			}
			if err := hub.ValidateFallback(l.Fallback, l.URL); err != nil {
				cerr.add(lp+".fallback", "%v", err)
			}
			validateExpect(l.Expect, lp+".expect", cerr)
			// A destination is checked once however many links share it, so
			// they must agree on what healthy means.
			if first, ok := destAt[l.URL]; ok {
				if !sameExpect(l.Expect, c.linkAt(first).Expect) {
					cerr.add(lp+".expect", "differs from %s, which has the same url (a destination is checked once)", first)
				}
			} else {
				destAt[l.URL] = lp
			}
		}
	}
}

// pageSlugError reports why s cannot name a page: a slug's shape, and
// not a first path segment of the server's own routes.
func pageSlugError(s string) error {
	if err := hub.ValidateSlug(s); err != nil {
		return err
	}
	return web.ReservedPageSlug(s)
}

// linkSlugError reports why s cannot name a link.
func linkSlugError(s string) error {
	if err := hub.ValidateSlug(s); err != nil {
		return err
	}
	return web.ReservedLinkSlug(s)
}

// linkAt returns the link at a path built by validatePages ("pages[i].links[j]").
func (c *Config) linkAt(path string) LinkConfig {
	var i, j int
	_, _ = fmt.Sscanf(path, "pages[%d].links[%d]", &i, &j)
	return c.Pages[i].Links[j]
}

func sameExpect(a, b *ExpectConfig) bool {
	if a == nil || b == nil {
		return a == b
	}
	return slices.Equal(a.Status, b.Status) && a.BodyContains == b.BodyContains && a.FinalHost == b.FinalHost
}

func validateExpect(e *ExpectConfig, path string, cerr *Error) {
	if e == nil {
		return
	}
	for i, code := range e.Status {
		if code < 100 || code > 599 {
			cerr.add(fmt.Sprintf("%s.status[%d]", path, i), "must be an HTTP status code (100 to 599)")
		}
	}
	if len(e.BodyContains) > 1024 {
		cerr.add(path+".body_contains", "must be at most 1024 bytes")
	}
	if h := e.FinalHost; h != "" {
		if u, err := url.Parse("http://" + h + "/"); err != nil || u.Host != h || u.Port() != "" || strings.ContainsAny(h, "/@ ") {
			cerr.add(path+".final_host", "must be a bare host name such as shop.example.com")
		}
	}
}

// CatalogSpec turns the config's pages into what hub.NewCatalog takes.
func (c *Config) CatalogSpec() []hub.PageSpec {
	out := make([]hub.PageSpec, 0, len(c.Pages))
	for _, p := range c.Pages {
		ps := hub.PageSpec{Slug: p.Slug, Title: p.Title, Description: p.Description}
		for _, l := range p.Links {
			ls := hub.LinkSpec{Slug: l.Slug, Title: l.Title, URL: l.URL, Fallback: l.Fallback}
			if l.Expect != nil {
				ls.Expect = linkwatch.Expect{Status: l.Expect.Status, BodyContains: l.Expect.BodyContains, FinalHost: l.Expect.FinalHost}
			}
			ps.Links = append(ps.Links, ls)
		}
		out = append(out, ps)
	}
	return out
}
