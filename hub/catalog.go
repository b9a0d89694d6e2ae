// Package hub holds the link catalog (pages, links and their destinations) and
// serves the public pages and short redirects from an in-memory snapshot.
package hub

import (
	"cmp"
	"fmt"
	"sort"

	"linkwatch"
)

// Page is one public page of links, served at /{slug}.
type Page struct {
	Slug        string
	Title       string
	Description string
	Links       []*Link

	linkBySlug map[string]*Link
}

// Link is one short link, served at /{page}/{slug} as a 302 to URL, or to
// Fallback while the incident engine says URL is down for visitors.
type Link struct {
	Slug     string
	Title    string
	URL      string
	Fallback string // "" without one
	// Expect is what a healthy answer of URL looks like beyond "2xx".
	Expect linkwatch.Expect

	key LinkKey

	// location and fallbackLocation are the Location header's values,
	// made once: a redirect points its header at them (net/http only
	// reads them) instead of allocating a value per request.
	location, fallbackLocation []string

	// clicks is shared with the Counter so that the redirect hot path is a
	// clock read and a compare and swap, with no map lookup and no lock.
	clicks *hourly
	// fallbackClicks counts the clicks sent to Fallback; clicks the others,
	// so a click is still one compare and swap.
	fallbackClicks *hourly
	counter        *Counter
}

// Key names the link across catalog reloads.
func (l *Link) Key() LinkKey { return l.key }

// Link returns the page's link with the given slug.
func (p *Page) Link(slug string) (*Link, bool) {
	l, ok := p.linkBySlug[slug]
	return l, ok
}

// PageSpec describes a page to build into a Catalog.
type PageSpec struct {
	Slug        string
	Title       string // defaults to the slug
	Description string
	Links       []LinkSpec
}

// LinkSpec describes a link to build into a Catalog.
type LinkSpec struct {
	Slug     string
	Title    string // defaults to the slug
	URL      string
	Fallback string // optional: where visitors go while URL is down
	// Expect is what a healthy answer of URL looks like; links sharing a
	// URL share it (the config validates that they agree).
	Expect linkwatch.Expect
}

// LinkKey names a link across catalog reloads.
type LinkKey struct {
	Page string
	Link string
}

func (k LinkKey) String() string { return k.Page + "/" + k.Link }

// Compare orders link keys by page, then link.
func (k LinkKey) Compare(o LinkKey) int {
	return cmp.Or(cmp.Compare(k.Page, o.Page), cmp.Compare(k.Link, o.Link))
}

// Catalog is an immutable snapshot of every page and link. A reload builds a
// new Catalog and swaps it in; readers never see a half-built one.
type Catalog struct {
	pages      []*Page
	pageBySlug map[string]*Page
}

// NewCatalog builds a snapshot from pages, wiring each link to its click
// counter. It rejects what the config validation should already have caught
// (bad or duplicate slugs), so a Catalog is always servable.
func NewCatalog(pages []PageSpec, counter *Counter) (*Catalog, error) {
	c := &Catalog{pageBySlug: make(map[string]*Page, len(pages))}
	for i := range pages {
		p := pages[i]
		if err := ValidateSlug(p.Slug); err != nil {
			return nil, fmt.Errorf("page %q: %w", p.Slug, err)
		}
		if _, dup := c.pageBySlug[p.Slug]; dup {
			return nil, fmt.Errorf("page %q: duplicate slug", p.Slug)
		}
		if p.Title == "" {
			p.Title = p.Slug
		}
		np := &Page{Slug: p.Slug, Title: p.Title, Description: p.Description, linkBySlug: make(map[string]*Link, len(p.Links))}
		for _, l := range p.Links {
			if err := ValidateSlug(l.Slug); err != nil {
				return nil, fmt.Errorf("link %q/%q: %w", p.Slug, l.Slug, err)
			}
			if _, dup := np.linkBySlug[l.Slug]; dup {
				return nil, fmt.Errorf("link %q/%q: duplicate slug", p.Slug, l.Slug)
			}
			if err := ValidateURL(l.URL); err != nil {
				return nil, fmt.Errorf("link %q/%q: %w", p.Slug, l.Slug, err)
			}
			if err := ValidateFallback(l.Fallback, l.URL); err != nil {
				return nil, fmt.Errorf("link %q/%q: fallback: %w", p.Slug, l.Slug, err)
			}
			title := l.Title
			if title == "" {
				title = l.Slug
			}
			key := LinkKey{p.Slug, l.Slug}
			nl := &Link{Slug: l.Slug, Title: title, URL: l.URL, Fallback: l.Fallback, Expect: l.Expect, key: key,
				location: []string{l.URL}, fallbackLocation: []string{l.Fallback},
				clicks: counter.cell(clickKey{key, false}), fallbackClicks: counter.cell(clickKey{key, true}), counter: counter}
			np.Links = append(np.Links, nl)
			np.linkBySlug[l.Slug] = nl
		}
		c.pages = append(c.pages, np)
		c.pageBySlug[np.Slug] = np
	}
	return c, nil
}

// Page returns the page with the given slug.
func (c *Catalog) Page(slug string) (*Page, bool) {
	p, ok := c.pageBySlug[slug]
	return p, ok
}

// Pages returns the pages in config order. The slice must not be modified.
func (c *Catalog) Pages() []*Page { return c.pages }

// Destinations returns every unique destination URL, fallbacks included,
// with the links that point to it, sorted by URL, so the prober checks each
// one once however many links share it. A fallback is checked like any
// destination: visitors are sent there only while it is not down itself.
func (c *Catalog) Destinations() []Destination {
	byURL := map[string]*Destination{}
	dest := func(u string) *Destination {
		d, ok := byURL[u]
		if !ok {
			d = &Destination{URL: u}
			byURL[u] = d
		}
		return d
	}
	for _, p := range c.pages {
		for _, l := range p.Links {
			d := dest(l.URL)
			d.Links = append(d.Links, l.key)
			if l.Fallback != "" {
				f := dest(l.Fallback)
				f.FallbackOf = append(f.FallbackOf, l.key)
			}
		}
	}
	out := make([]Destination, 0, len(byURL))
	for _, d := range byURL {
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].URL < out[j].URL })
	return out
}

// Destination is a URL that one or more links redirect to, or fall back to.
type Destination struct {
	URL        string
	Links      []LinkKey // links whose URL it is
	FallbackOf []LinkKey // links whose fallback it is
}
