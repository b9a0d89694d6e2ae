package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// chromium returns the headless browser, or skips the test where it is not
// installed; CI installs it (.ci/run), so there a missing browser fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed; .ci/run installs Debian's chromium package")
	}
	t.Skip("chromium not installed")
	return ""
}

// axeSource returns axe-core's script, installed by `npm ci --prefix
// tools/axe` (.ci/run does it); without it the test skips, but not in CI.
// It is read before Chromium starts: a machine without axe-core never
// starts a browser it cannot use.
func axeSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "tools", "axe", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("axe-core is not installed: run npm ci --prefix tools/axe --no-audit --no-fund --ignore-scripts (%v)", err)
		}
		t.Skipf("axe-core is not installed (npm ci --prefix tools/axe --no-audit --no-fund --ignore-scripts): %v", err)
	}
	return string(b)
}

// artifactDir is where screenshots go: $ARTIFACTS_DIR, or testdata/artifacts.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ARTIFACTS_DIR")
	if dir == "" {
		dir = filepath.Join("..", "testdata", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// everyShot: with $ARTIFACTS_DIR set (CI sets it), a screenshot of every
// page checked; without it, only of a page that failed its checks (a full
// screenshot costs Chromium about as much as axe's run, and the README's
// test command is what a newcomer waits for).
var everyShot = os.Getenv("ARTIFACTS_DIR") != ""

// shared is the package's one Chromium, started by the first browser test
// and stopped by TestMain: a browser costs seconds of CPU to start, and
// each test works in a browser context of its own (its own cookies and
// storage, as a private window), which is what a browser per test gave.
var shared struct {
	sync.Mutex
	root context.Context // the browser's first tab: the browser lives as long as it
	stop func()
	err  error
}

// browser returns a tab in a new browser context of the package's
// Chromium (started on first use), closed with its context when t ends. A
// browser that fails to start (on a loaded machine its first start can
// time out) is tried once more, from a fresh profile, before the tests
// fail.
func browser(t *testing.T) context.Context {
	t.Helper()
	bin := chromium(t)
	shared.Lock()
	if shared.root == nil && shared.err == nil {
		for attempt := 1; attempt <= 2; attempt++ {
			var root context.Context
			var stop func()
			if root, stop, shared.err = startBrowser(bin); shared.err == nil {
				shared.root, shared.stop = root, stop
				break
			}
			stop()
			t.Logf("chromium did not start (attempt %d of 2): %v", attempt, shared.err)
		}
	}
	root, err := shared.root, shared.err
	shared.Unlock()
	if err != nil {
		t.Fatalf("start chromium: %v (tried twice)", err)
	}
	// A browser context and a window in it, made by hand: chromedp's
	// WithNewBrowserContext opens its tab without a window, which headless
	// Chromium refuses ("no browser is open").
	browserSide := cdp.WithExecutor(root, chromedp.FromContext(root).Browser)
	id, err := target.CreateBrowserContext().Do(browserSide)
	if err != nil {
		t.Fatalf("chromium: a new browser context: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = target.DisposeBrowserContext(id).Do(cdp.WithExecutor(ctx, chromedp.FromContext(root).Browser))
	})
	window, err := target.CreateTarget("about:blank").WithBrowserContextID(id).WithNewWindow(true).Do(browserSide)
	if err != nil {
		t.Fatalf("chromium: a window: %v", err)
	}
	tab, closeTab := chromedp.NewContext(root, chromedp.WithTargetID(window))
	t.Cleanup(closeTab)
	return tab
}

// stopBrowser stops the package's Chromium, if a test started it.
func stopBrowser() {
	shared.Lock()
	defer shared.Unlock()
	if shared.stop != nil {
		shared.stop()
		shared.root, shared.stop = nil, nil
	}
}

// look checks the page loaded in tab as visitors see it, each state a
// subtest named scheme-width: light on a phone (360 px) and on a desktop
// (1280 px), dark on a phone. In each, no horizontal overflow and what
// more checks of the layout; on the phone, no axe-core violation (axe is
// axe-core's source): every rule in light, and in dark the rules that
// judge colours. The emulation changes the page in place, as a window
// resized or a system switched to dark mode does; the tab is left on a
// desktop in light. A screenshot of each goes to artifactDir as
// label-scheme-width.png (see everyShot).
//
// Three states stand for all four, and the dark run's short list of axe
// rules for all of them, because of what schemeRules finds true of the
// page's stylesheets (and fails the test where it is not): the dark
// scheme changes only the values of colour properties, and the width rules
// change no colour. So the dark page is the light page's document, boxes
// and layout in other colours, judged by axe's colour rules at 360 px; and
// dark at 1280 px would be light at 1280 px's layout in dark at 360 px's
// colours, both already checked. (axe's run is most of a state's cost.)
func look(t *testing.T, tab context.Context, axe, label string, more func(t *testing.T, l layoutResult)) {
	t.Helper()
	var rulesJSON string
	if err := chromedp.Run(tab, chromedp.Evaluate(axe, nil), chromedp.Evaluate(schemeRules, &rulesJSON)); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	var wrong []string
	if err := json.Unmarshal([]byte(rulesJSON), &wrong); err != nil {
		t.Fatalf("stylesheet rules %q: %v", rulesJSON, err)
	}
	for _, w := range wrong {
		t.Errorf("%s: the dark state and the axe rules checked in it stand for the others only where the dark scheme changes colours alone and width rules no colour", w)
	}
	for _, state := range []struct {
		scheme string
		width  int64
		axe    string // the axe-core run, or none
	}{
		{"light", 360, runAxe},
		{"light", 1280, ""},
		{"dark", 360, runAxeColours},
	} {
		scheme, width := state.scheme, state.width
		t.Run(fmt.Sprintf("%s-%d", scheme, width), func(t *testing.T) {
			axeJSON, layoutJSON := "[]", ""
			actions := []chromedp.Action{
				emulation.SetDeviceMetricsOverride(width, 900, 1, width < 600),
				emulation.SetEmulatedMedia().WithFeatures([]*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}),
				chromedp.Evaluate(layout, &layoutJSON),
			}
			if state.axe != "" {
				actions = append(actions, chromedp.Evaluate(state.axe, &axeJSON, awaitPromise))
			}
			if err := chromedp.Run(tab, actions...); err != nil {
				t.Fatalf("chromium: %v", err)
			}
			axeClean(t, "", axeJSON)
			l := laidOut(t, "", layoutJSON, scheme)
			if more != nil {
				more(t, l)
			}
			if everyShot || t.Failed() {
				var shot []byte
				if err := chromedp.Run(tab, chromedp.FullScreenshot(&shot, 100)); err != nil {
					t.Errorf("chromium: screenshot: %v", err)
					return
				}
				name := filepath.Join(artifactDir(t), fmt.Sprintf("%s-%s-%d.png", label, scheme, width))
				if err := os.WriteFile(name, shot, 0o644); err != nil {
					t.Error(err)
				}
				t.Logf("screenshot: %s", name)
			}
		})
	}
	if err := chromedp.Run(tab, emulation.SetDeviceMetricsOverride(1280, 900, 1, false),
		emulation.SetEmulatedMedia().WithFeatures([]*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "light"}})); err != nil {
		t.Fatalf("chromium: %v", err)
	}
}

// schemeRules lists what in the page's stylesheets (inline SVGs' included)
// would make look's three states miss something: under a
// prefers-color-scheme condition, a declaration other than a custom
// property holding a colour; under a width condition, a custom property
// or a colour, background, fill, stroke, shadow, opacity or filter; and
// anywhere, color-scheme or light-dark(), which change colours by scheme
// without a media condition. An empty list is the page look checks in
// three states.
const schemeRules = `(() => {
const wrong = [];
const colourish = /^--|color|background|fill|stroke|shadow|opacity|filter/;
const visit = (rules, where, scheme, width) => {
	for (const r of rules) {
		if (r instanceof CSSMediaRule) {
			const m = r.media.mediaText;
			visit(r.cssRules, where + ' @media ' + m, scheme || m.includes('prefers-color-scheme'), width || m.includes('width'));
			continue;
		}
		if (r.style) {
			for (const p of r.style) {
				const v = r.style.getPropertyValue(p).trim(), at = where + ' ' + r.selectorText + ' { ' + p + ': ' + v + ' }';
				if (p === 'color-scheme' || v.includes('light-dark(')) wrong.push(at);
				else if (scheme && !(p.startsWith('--') && CSS.supports('color', v))) wrong.push(at);
				else if (width && colourish.test(p)) wrong.push(at);
			}
		}
		if (r.cssRules) visit(r.cssRules, where, scheme, width); // @supports, @layer, nesting
	}
};
for (const s of document.styleSheets) {
	const m = s.media.mediaText;
	visit(s.cssRules, (s.href || 'inline style') + (m ? ' media=' + m : ''), m.includes('prefers-color-scheme'), m.includes('width'));
}
return JSON.stringify(wrong);
})()`

// startBrowser starts one Chromium from a profile of its own; stop ends it
// and removes the profile, whether it started or not.
func startBrowser(bin string) (ctx context.Context, stop func(), err error) {
	// Not t.TempDir: Chromium's helper processes may still write to the
	// profile for a moment after the browser exits, and t.TempDir's removal
	// then fails the test. This one is removed with a few retries, after the
	// browser is stopped.
	profile, err := os.MkdirTemp("", "linkwatch-chromium-")
	if err != nil {
		return nil, func() {}, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox, // CI runs as root
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		// chromedp's own list, and the two omnibox popups that Chromium
		// (156) preloads as web pages in every window, each a renderer
		// that cost as much CPU as the page under test: a window here
		// never shows its address bar.
		chromedp.Flag("disable-features", "site-per-process,Translate,BlinkGenPropertyTrees,WebUIOmniboxPopup,WebUIOmniboxAimPopup"),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	stop = func() {
		cancelCtx()
		cancelAlloc()
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond) // Chromium's helpers let go of the profile in real time
		}
	}
	// The browser lives as long as the context of its first Run: the
	// bound on a hung start (not a timed assertion) is kept apart, and
	// each page's tab has its own (TestStatusPagesInBrowser).
	started := make(chan error, 1)
	go func() { started <- chromedp.Run(ctx) }()
	select {
	case err = <-started:
	case <-time.After(3 * time.Minute):
		err = errors.New("chromium did not start within 3 minutes")
	}
	return ctx, stop, err
}

func awaitPromise(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }

// violation is an axe-core finding, trimmed for the test log.
type violation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Targets []string `json:"targets"`
	Summary string   `json:"summary"`
}

// runAxe injects axe-core through the DevTools protocol (Runtime.evaluate is
// not subject to the page's Content-Security-Policy, which stays on) and
// runs every rule axe enables by default, WCAG 2.x A and AA included.
var runAxe = axeRun(`{resultTypes: ['violations']}`)

// runAxeColours is runAxe with only the rules that judge colours: those of
// axe's category cat.color that it runs by default (text contrast, and
// links told from the text around them by colour).
var runAxeColours = axeRun(`{resultTypes: ['violations'], runOnly: {type: 'rule', values: ['color-contrast', 'link-in-text-block']}}`)

// axeRun is the script that runs axe-core on the page with options and
// returns its violations as JSON, trimmed for the test log.
func axeRun(options string) string {
	return `axe.run(document, ` + options + `).then(r => JSON.stringify(r.violations.map(v => ({
	id: v.id, impact: v.impact, help: v.help,
	targets: v.nodes.slice(0, 3).map(n => n.target.join(' ')),
	summary: v.nodes.length ? v.nodes[0].failureSummary : ''}))))`
}

// openDisclosures opens every <details> (the hosts' destinations and
// charts), so axe and the layout checks see what a visitor can open.
const openDisclosures = `document.querySelectorAll('details').forEach(d => d.open = true); true`

// loadImages loads the lazy images now (a visitor scrolling would) and
// waits for them, so the layout checks see them drawn. (That they are
// lazy is statuspage's test.)
const loadImages = `Promise.all([...document.querySelectorAll('img[loading=lazy]')].map(img => { img.loading = 'eager'; return img.decode().catch(() => {}); })).then(() => true)`

// layout measures what axe does not: horizontal overflow of the page, and
// each 90-day bar chart's last bar (today) inside its card with a width;
// each response-time chart inside its card, its labels inside it and
// apart, and the contrast of its lines and text on the card (WCAG 1.4.11
// and 1.4.3).
const layout = `(() => {
const rgb = c => c.match(/[\d.]+/g).slice(0, 3).map(Number);
const lum = c => { const [r, g, b] = rgb(c).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
const contrast = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
const inside = (r, box) => r.left >= box.left - 0.5 && r.right <= box.right + 0.5;
const apart = (a, b) => a.right <= b.left || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top;
return JSON.stringify({
	scrollWidth: document.documentElement.scrollWidth,
	clientWidth: document.documentElement.clientWidth,
	dark: matchMedia('(prefers-color-scheme: dark)').matches,
	bars: [...document.querySelectorAll('ol.bars')].map(ol => {
		const today = ol.lastElementChild.getBoundingClientRect(), card = ol.closest('.component').getBoundingClientRect();
		return {count: ol.children.length, todayLeft: today.left, todayRight: today.right, todayWidth: today.width, cardLeft: card.left, cardRight: card.right};
	}),
	ongoing: [...document.querySelectorAll('.incident-ongoing')].map(e => getComputedStyle(e).borderLeftColor),
	resolved: [...document.querySelectorAll('.incident-resolved')].map(e => getComputedStyle(e).borderLeftColor),
	// A link's chart is the standalone SVG as a lazy image (its inside is
	// the standalone chart's, held to the page's colours in statuspage):
	// it must be in its card, loaded, and have its words.
	images: [...document.querySelectorAll('img.chart')].map(img => {
		const box = img.getBoundingClientRect(), card = img.closest('.component').getBoundingClientRect();
		return {src: img.getAttribute('src'), width: box.width, height: box.height, inCard: inside(box, card),
			loaded: img.complete && img.naturalWidth > 0, alt: img.alt};
	}),
	charts: [...document.querySelectorAll('svg.chart')].map(svg => {
		const box = svg.getBoundingClientRect(), card = svg.closest('.component').getBoundingClientRect();
		const bg = getComputedStyle(svg.closest('.components')).backgroundColor;
		const texts = [...svg.querySelectorAll(':scope > text')].map(t => t.getBoundingClientRect());
		const line = sel => { const e = svg.querySelector(sel); return e ? contrast(getComputedStyle(e).stroke, bg) : 99; };
		return {id: svg.getAttribute('aria-labelledby'), width: box.width, inCard: inside(box, card),
			textsInside: texts.every(r => inside(r, box)), boxes: JSON.stringify([box.left, box.right, ...texts.map(r => [r.left, r.right])]),
			textsApart: texts.every((a, i) => texts.every((b, j) => i === j || apart(a, b))),
			textContrast: Math.min(...[...svg.querySelectorAll('text')].map(t => contrast(getComputedStyle(t).fill, bg))),
			p95Contrast: line('path.p95'), p50Contrast: line('path.p50')};
	}),
});
})()`

// axeClean fails t on each violation axe-core reported (axeJSON: runAxe's
// result), each named by label when there is one.
func axeClean(t *testing.T, label, axeJSON string) {
	t.Helper()
	var vs []violation
	if err := json.Unmarshal([]byte(axeJSON), &vs); err != nil {
		t.Fatalf("axe result %q: %v", axeJSON, err)
	}
	for _, v := range vs {
		t.Errorf("%saxe %s (%s): %s at %s\n%s", prefix(label), v.ID, v.Impact, v.Help, strings.Join(v.Targets, " | "), v.Summary)
	}
}

// laidOut reads the layout script's result (layoutJSON) and fails t when
// the page is not in the color scheme asked for or overflows sideways; it
// returns the layout for the page's own checks.
func laidOut(t *testing.T, label, layoutJSON, scheme string) layoutResult {
	t.Helper()
	var l layoutResult
	if err := json.Unmarshal([]byte(layoutJSON), &l); err != nil {
		t.Fatalf("%slayout %q: %v", prefix(label), layoutJSON, err)
	}
	if l.Dark != (scheme == "dark") {
		t.Fatalf("%sprefers-color-scheme: dark matches = %v in the %s run", prefix(label), l.Dark, scheme)
	}
	if l.ScrollWidth > l.ClientWidth {
		t.Errorf("%shorizontal overflow: scrollWidth %d > clientWidth %d", prefix(label), l.ScrollWidth, l.ClientWidth)
	}
	return l
}

// prefix is label as the start of a message: "label: ", or nothing.
func prefix(label string) string {
	if label == "" {
		return ""
	}
	return label + ": "
}

type layoutResult struct {
	ScrollWidth, ClientWidth int
	Dark                     bool
	Bars                     []struct {
		Count                                                  int
		TodayLeft, TodayRight, TodayWidth, CardLeft, CardRight float64
	}
	Ongoing, Resolved []string
	Images            []struct {
		Src, Alt       string
		Width, Height  float64
		InCard, Loaded bool
	}
	Charts []struct {
		ID, Boxes                              string
		Width                                  float64
		InCard, TextsInside, TextsApart        bool
		TextContrast, P95Contrast, P50Contrast float64
	}
}

// TestStatusPagesInBrowser renders, as linkwatch serves them, /status, one
// page's status, a hub page, the hub's 404 page and an unknown page's
// status, then both statuses during two maintenance windows and while the
// prober is offline, and a status with two postmortems of incidents of
// one title, in Chromium, light and dark, on a phone (360 px) and a
// desktop (1280 px). Each state is a linkwatch process over a database
// seeded with its history (scenes_test.go), checking destinations on
// loopback that answer as the state says.
// Each must have no axe-core violation and no horizontal overflow; the
// status pages' 90-day bars must keep today's bar inside the card, each
// response-time chart must fit and read, and a past incident must look
// different from an ongoing one.
func TestStatusPagesInBrowser(t *testing.T) {
	endToEnd(t)
	axe := axeSource(t) // before Chromium starts: without axe-core it never does
	chromium(t)
	seededSrv := seededScene(t)
	maintSrv := maintenanceScene(t)
	offlineSrv := proberOfflineScene(t)
	postmortemsSrv := postmortemsScene(t)

	// charts is how many response-time charts a status page draws: two
	// links on the seeded acme's, two hosts on its every page's; one link,
	// one host on the others.
	pages := []struct {
		name   string
		srv    *proc
		path   string
		status bool // a status page: 90-day bars and charts
		charts int
	}{
		{"status", seededSrv, "/status", true, 2},
		{"status-acme", seededSrv, "/status/acme", true, 2},
		{"hub-page", seededSrv, "/acme", false, 0},
		{"not-found", seededSrv, "/nobody/nothing", false, 0},
		{"status-not-found", seededSrv, "/status/nobody", false, 0},
		{"maintenance", maintSrv, "/status", true, 1},
		{"maintenance-acme", maintSrv, "/status/acme", true, 1},
		{"prober-offline", offlineSrv, "/status", true, 1},
		{"prober-offline-acme", offlineSrv, "/status/acme", true, 1},
		{"postmortems", postmortemsSrv, "/status", true, 1},
		{"subscription-confirm", seededSrv, seededSrv.Links["confirm"], false, 0},
		{"subscription-manage", seededSrv, seededSrv.Links["manage"], false, 0},
	}
	// Each page is loaded once, two at a time (a page's layout and axe's
	// run keep a core busy), in one of two windows that go from page to
	// page as a visitor's would (a window costs Chromium half a second of
	// CPU to open), and seen in each colour scheme at each width: the
	// emulation changes the page in place, as a window resized or a
	// system switched to dark mode does. Each window's pages are subtests
	// run one after another by a goroutine of the window's (t.Run may be
	// called from several at once), not parallel subtests: those would each
	// wait for one of go test's -parallel slots, held by the tests that wait
	// on clocks, while both windows sat idle.
	type visit struct {
		name string
		run  func(t *testing.T, tab context.Context)
	}
	visits := make(chan visit, len(pages)+1)
	for _, p := range pages {
		visits <- visit{p.name, func(t *testing.T, tab context.Context) {
			if err := chromedp.Run(tab,
				chromedp.Navigate(p.srv.URL+p.path),
				chromedp.WaitReady("body"),
				chromedp.Evaluate(openDisclosures, nil),
				chromedp.Evaluate(loadImages, nil, awaitPromise),
			); err != nil {
				t.Fatalf("chromium: %v", err)
			}
			look(t, tab, axe, p.name, func(t *testing.T, l layoutResult) {
				if p.status {
					if len(l.Bars) == 0 {
						t.Error("no 90-day bars")
					}
					for i, b := range l.Bars {
						if b.Count != 90 || b.TodayWidth < 1 || b.TodayRight > b.CardRight+0.5 || b.TodayLeft < b.CardLeft {
							t.Errorf("bars %d: %+v: today's bar is missing, empty or outside its card", i, b)
						}
					}
					if len(l.Charts)+len(l.Images) != p.charts {
						t.Errorf("%d response-time charts and %d chart images, want %d: %+v %+v", len(l.Charts), len(l.Images), p.charts, l.Charts, l.Images)
					}
					for _, c := range l.Images {
						if c.Width < 100 || c.Height != 172 || !c.InCard || !c.Loaded || !strings.HasPrefix(c.Alt, "Response time of ") {
							t.Errorf("chart image %s: width %.0f, height %.0f, in its card %v, loaded %v, alt %q", c.Src, c.Width, c.Height, c.InCard, c.Loaded, c.Alt)
						}
					}
					chartsRead(t, l)
				}
				if p.name == "status" {
					if len(l.Ongoing) == 0 || len(l.Resolved) == 0 {
						t.Fatalf("ongoing %v, resolved %v: both kinds expected on /status", l.Ongoing, l.Resolved)
					}
					if l.Ongoing[0] == l.Resolved[0] {
						t.Errorf("a past incident has the ongoing one's edge colour %s", l.Ongoing[0])
					}
				}
			})
		}}
	}
	// A visitor fills in the subscription form and sends it, as a browser
	// does under the page's Content-Security-Policy (form-action): the
	// answer is the "check your inbox" page, axe-clean.
	visits <- visit{"subscribe-form", func(t *testing.T, tab context.Context) {
		var heading, axeJSON string
		if err := chromedp.Run(tab,
			chromedp.Navigate(seededSrv.URL+"/status/acme"),
			chromedp.WaitVisible("#sub-email", chromedp.ByID),
			chromedp.SendKeys("#sub-email", "visitor@example.com", chromedp.ByID),
			chromedp.Submit("#sub-email", chromedp.ByID),
			chromedp.WaitVisible(`//h1[contains(., "Check your inbox")]`),
			chromedp.Text("h1", &heading, chromedp.ByQuery),
			chromedp.Evaluate(axe, nil),
			chromedp.Evaluate(runAxe, &axeJSON, awaitPromise),
		); err != nil {
			t.Fatalf("chromium: %v", err)
		}
		axeClean(t, "", axeJSON)
	}}
	close(visits)
	var windows []context.Context
	for range 2 {
		win := browser(t)
		// The first Run attaches to the window, and the window lives as
		// long as that Run's context: win's, not a page's bounded one.
		if err := chromedp.Run(win); err != nil {
			t.Fatalf("chromium: %v", err)
		}
		windows = append(windows, win)
	}
	var visiting sync.WaitGroup
	for _, win := range windows {
		visiting.Go(func() {
			for v := range visits {
				t.Run(v.name, func(t *testing.T) {
					tab, cancel := context.WithTimeout(win, 3*time.Minute) // a bound on a hung page, not a timed assertion
					defer cancel()
					v.run(t, tab)
				})
			}
		})
	}
	visiting.Wait()
}

// chartsRead fails t for a response-time chart drawn inline that does not
// fit its card or read: labels outside it or over each other, text under
// 4.5:1 or lines under 3:1 on the card (WCAG 1.4.3 and 1.4.11).
func chartsRead(t *testing.T, l layoutResult) {
	t.Helper()
	for _, c := range l.Charts {
		if c.Width < 100 || !c.InCard || !c.TextsInside || !c.TextsApart {
			t.Errorf("chart %s (boxes %s): width %.0f, in its card %v, labels inside %v, labels apart %v", c.ID, c.Boxes, c.Width, c.InCard, c.TextsInside, c.TextsApart)
		}
		if c.TextContrast < 4.5 || c.P95Contrast < 3 || c.P50Contrast < 3 {
			t.Errorf("chart %s: contrast of text %.2f (want 4.5), p95 line %.2f, p50 line %.2f (want 3)", c.ID, c.TextContrast, c.P95Contrast, c.P50Contrast)
		}
	}
}

// TestSchemeRulesFindsWhatLookCannotStandFor: schemeRules, on which look's
// three states rest, lists each rule of a page's stylesheets that would
// make the dark state differ from the light one in more than colours, or
// a width change its colours, and only those.
func TestSchemeRulesFindsWhatLookCannotStandFor(t *testing.T) {
	endToEnd(t)
	chromium(t)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!doctype html><html lang="en"><head><title>rules</title><style>
:root { --fg: #16181d; }
@media (prefers-color-scheme: dark) { :root { --fg: #eef0f4; --gap: 2rem; } .hidden-in-dark { display: none; } }
@media (max-width: 40rem) { main { padding: 0; } .red-on-phones { color: red; } }
@supports (display: grid) { @media (max-width: 40rem) { :root { --accent: blue; } } }
.flips { color-scheme: light dark; }
.picks { color: light-dark(black, white); }
</style><style media="(prefers-color-scheme: dark)">body { order: 1; }</style>
</head><body><main><p>rules</p></main><svg><style>@media (prefers-color-scheme: dark) { :root { --card: #1b1e25; } }</style></svg></body></html>`)
	}))
	t.Cleanup(page.Close)
	tab, cancel := context.WithTimeout(browser(t), 3*time.Minute) // a bound on a hung page, not a timed assertion
	defer cancel()
	var rulesJSON string
	if err := chromedp.Run(tab, chromedp.Navigate(page.URL), chromedp.WaitReady("body"), chromedp.Evaluate(schemeRules, &rulesJSON)); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	var got []string
	if err := json.Unmarshal([]byte(rulesJSON), &got); err != nil {
		t.Fatalf("%q: %v", rulesJSON, err)
	}
	want := []string{"--gap: 2rem", ".hidden-in-dark { display: none", ".red-on-phones { color: red", ":root { --accent: blue",
		".flips { color-scheme", ".picks { color: light-dark(", "body { order: 1"}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.Contains(g, w) }) {
			t.Errorf("schemeRules misses %q: %q", w, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("schemeRules found %d rules, want the %d that change more than colours by scheme or colours by width: %q", len(got), len(want), got)
	}
}
