package checker

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// SelfCheckHeader marks the prober's requests for the hub's own short links,
// which the hub must not count as clicks. It has the same value as
// hub.SelfCheckHeader; checker does not import hub.
const SelfCheckHeader = "X-Linkwatch-Self-Check"

// maxResponseHeaderBytes bounds a destination's response headers.
const maxResponseHeaderBytes = 64 << 10

// DefaultUserAgent is browser-like, so sites serve what a visitor gets, and
// honest, so an operator can tell who is calling.
const DefaultUserAgent = "Mozilla/5.0 (compatible; linkwatch/1.0; link health monitor)"

// Options configure a Checker. Zero values take the defaults.
type Options struct {
	Timeout            time.Duration  // whole check, every hop (default 8s; keep it below the interval)
	UserAgent          string         // default DefaultUserAgent
	AllowPrivate       []netip.Prefix // exempt from the SSRF guard
	MaxBodyBytes       int64          // body bytes read at most (default 256 KiB)
	MaxRedirects       int            // default 10
	PerHostConcurrency int            // requests in flight per host (default 2)
	SlowThreshold      time.Duration  // a self-check slower than this is hub_slow (default 1s)
	HEADFirst          bool           // try HEAD, fall back to GET on 405/403/501
	Resolver           Resolver       // default net.DefaultResolver
	// SelfCheckToken is sent in the self-check header, so the hub can tell
	// its own prober from a client that merely sets the header.
	SelfCheckToken string
	RootCAs        *x509.CertPool // default: the system's
	Now            func() time.Time
}

// Checker checks targets. It is safe for concurrent use and keeps
// connections alive between checks.
type Checker struct {
	opts   Options
	client *http.Client // destinations: SSRF-guarded
	self   *http.Client // the hub's own public URL: trusted, not guarded

	mu    sync.Mutex
	hosts map[string]*hostState
}

// hostState is what the checker remembers per destination host.
type hostState struct {
	sem          chan struct{} // bounds requests in flight to the host
	backoffUntil time.Time     // from a 429's Retry-After
}

// New returns a Checker.
func New(opts Options) *Checker {
	if opts.Timeout <= 0 {
		opts.Timeout = 8 * time.Second
	}
	if opts.UserAgent == "" {
		opts.UserAgent = DefaultUserAgent
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 256 << 10
	}
	if opts.MaxRedirects <= 0 {
		opts.MaxRedirects = 10
	}
	if opts.PerHostConcurrency <= 0 {
		opts.PerHostConcurrency = 2
	}
	if opts.SlowThreshold <= 0 {
		opts.SlowThreshold = time.Second
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	dialer := newGuardedDialer(opts.Resolver, opts.AllowPrivate, opts.Timeout)
	transport := func(dial func(context.Context, string, string) (net.Conn, error)) *http.Transport {
		return &http.Transport{
			Proxy:                 nil, // never from the environment: the prober must reach what it checks
			DialContext:           dial,
			TLSClientConfig:       &tls.Config{RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:   opts.Timeout,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          4096,
			MaxIdleConnsPerHost:   opts.PerHostConcurrency,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: opts.Timeout,
			// Bounded like the body: Go's default lets a destination send
			// 10 MB of headers.
			MaxResponseHeaderBytes: maxResponseHeaderBytes,
		}
	}
	noFollow := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	plain := &net.Dialer{Timeout: opts.Timeout, KeepAlive: 30 * time.Second}
	return &Checker{
		opts:   opts,
		client: &http.Client{Transport: transport(dialer.DialContext), CheckRedirect: noFollow},
		self:   &http.Client{Transport: transport(plain.DialContext), CheckRedirect: noFollow},
		hosts:  map[string]*hostState{},
	}
}

func (c *Checker) selfToken() string {
	if c.opts.SelfCheckToken == "" {
		return "1"
	}
	return c.opts.SelfCheckToken
}

func (c *Checker) host(name string) *hostState {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.hosts[name]
	if !ok {
		h = &hostState{sem: make(chan struct{}, c.opts.PerHostConcurrency)}
		c.hosts[name] = h
	}
	return h
}

// Check checks one target. It never returns an error: an outage is a Result
// with a Cause.
func (c *Checker) Check(ctx context.Context, t Target) Result {
	r := Result{TargetID: t.ID, Series: t.Series, Kind: t.Kind, URL: t.URL, Start: c.opts.Now()}
	if t.Kind == KindSelfCheck {
		c.timed(ctx, &r, func(ctx context.Context) { c.checkSelf(ctx, t, &r) })
	} else {
		c.checkDestination(ctx, t, &r)
	}
	if t.Kind == KindSelfCheck && r.Cause == CauseNone && r.Latency > c.opts.SlowThreshold {
		r.Status, r.Cause = StatusDegraded, CauseHubSlow
		r.Summary = fmt.Sprintf("the hub took %s to answer %s (threshold %s)", r.Latency.Round(time.Millisecond), t.URL, c.opts.SlowThreshold)
	}
	if r.Status == "" {
		r.Status = StatusUp
		if r.Cause != CauseNone {
			r.Status = StatusDown
		}
	}
	return r
}

// timed runs one check under the per-check timeout and measures it. The
// clock starts here, not when Check is called: time spent waiting for a
// host's turn is our own queueing and must count neither against the
// destination's timeout nor in its latency.
func (c *Checker) timed(ctx context.Context, r *Result, check func(ctx context.Context)) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	r.Start = c.opts.Now()
	started := time.Now()
	check(ctx)
	r.Latency = time.Since(started)
}

// backoff reports until when host asked us, with a 429's Retry-After, to
// stay away.
func (c *Checker) backoff(host string) (until time.Time, ok bool) {
	h := c.host(host)
	c.mu.Lock()
	until = h.backoffUntil
	c.mu.Unlock()
	return until, c.opts.Now().Before(until)
}

func (c *Checker) failBackoff(r *Result, host string, until time.Time) {
	r.RetryAfter = until.Sub(c.opts.Now())
	c.fail(r, CauseRateLimited, fmt.Sprintf("backing off from %s until %s (Retry-After)", host, until.UTC().Format("15:04:05")), nil)
}

func (c *Checker) fail(r *Result, cause Cause, summary string, err error) {
	r.Status, r.Cause, r.Summary = StatusDown, cause, summary
	if cause == CauseRateLimited {
		r.Status = StatusDegraded
	}
	if err != nil {
		r.Error = err.Error()
	}
}

func (c *Checker) checkDestination(ctx context.Context, t Target, r *Result) {
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		c.fail(r, CauseBlocked, fmt.Sprintf("%q is not an http(s) URL", t.URL), err)
		return
	}
	first := strings.ToLower(u.Hostname())
	if until, ok := c.backoff(first); ok {
		c.failBackoff(r, first, until)
		return
	}
	sem := c.host(first).sem
	select {
	case sem <- struct{}{}:
		defer func() { <-sem }()
	case <-ctx.Done():
		// Only the caller's context (a shutdown, a one-shot run's
		// deadline) ends the wait: the check's own timeout has not
		// started yet.
		c.fail(r, CauseTimeout, fmt.Sprintf("cancelled while waiting for a free connection to %s", first), ctx.Err())
		return
	}
	c.timed(ctx, r, func(ctx context.Context) { c.follow(ctx, t, u, r) })
}

// follow requests u and the redirects it leads to, one hop at a time, and
// judges the last answer.
func (c *Checker) follow(ctx context.Context, t Target, u *url.URL, r *Result) {
	seen := map[string]bool{}
	next := u
	for hop := 0; ; hop++ {
		if seen[next.String()] {
			c.fail(r, CauseRedirectLoop, fmt.Sprintf("redirect loop: %s is visited twice", next), nil)
			return
		}
		seen[next.String()] = true
		if hop > c.opts.MaxRedirects {
			c.fail(r, CauseTooManyRedirects, fmt.Sprintf("more than %d redirects starting at %s", c.opts.MaxRedirects, t.URL), nil)
			return
		}
		// A later hop may lead to a host that asked us to back off.
		if hop > 0 {
			host := strings.ToLower(next.Hostname())
			if until, ok := c.backoff(host); ok {
				c.failBackoff(r, host, until)
				return
			}
		}
		resp, body, h, err := c.fetch(ctx, c.client, next, t.Expect.BodyContains != "")
		if h != nil {
			r.Hops = append(r.Hops, *h)
		}
		if err != nil {
			cause, summary := classify(err, next)
			c.fail(r, cause, summary, err)
			return
		}
		r.StatusCode = resp.StatusCode
		r.BytesRead += int64(len(body.data)) + body.discarded
		if loc := resp.Header.Get("Location"); isRedirect(resp.StatusCode) && loc != "" {
			target, err := next.Parse(loc)
			if err != nil || (target.Scheme != "http" && target.Scheme != "https") {
				c.fail(r, CauseBlocked, fmt.Sprintf("%s redirects to %q, which is not an http(s) URL", next, loc), err)
				return
			}
			next = target
			continue
		}
		r.FinalURL = next.String()
		if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
			r.TLSExpiry = resp.TLS.PeerCertificates[0].NotAfter.UTC()
		}
		c.judge(t, r, resp, body.data, next)
		return
	}
}

// judge decides whether the final answer is healthy.
func (c *Checker) judge(t Target, r *Result, resp *http.Response, body []byte, final *url.URL) {
	code := resp.StatusCode
	status := fmt.Sprintf("%d %s", code, http.StatusText(code))
	switch {
	case code == http.StatusTooManyRequests:
		r.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), c.opts.Now())
		summary := fmt.Sprintf("429 Too Many Requests at %s", final)
		if r.RetryAfter > 0 {
			// The back-off is the answering host's, wherever the chain began.
			host := c.host(strings.ToLower(final.Hostname()))
			c.mu.Lock()
			host.backoffUntil = c.opts.Now().Add(r.RetryAfter)
			c.mu.Unlock()
			summary += fmt.Sprintf("; retrying after %s", r.RetryAfter)
		}
		c.fail(r, CauseRateLimited, summary, nil)
		return
	case len(t.Expect.Status) > 0 && !slices.Contains(t.Expect.Status, code):
		cause := CauseHTTP4xx
		if code >= 500 {
			cause = CauseHTTP5xx
		}
		c.fail(r, cause, fmt.Sprintf("%s at %s; expected %v", status, final, t.Expect.Status), nil)
		return
	case len(t.Expect.Status) == 0 && code >= 500:
		c.fail(r, CauseHTTP5xx, fmt.Sprintf("%s at %s", status, final), nil)
		return
	case len(t.Expect.Status) == 0 && code >= 400:
		c.fail(r, CauseHTTP4xx, fmt.Sprintf("%s at %s", status, final), nil)
		return
	}
	if want := t.Expect.FinalHost; want != "" && !strings.EqualFold(final.Hostname(), want) {
		c.fail(r, CauseRedirectChanged, fmt.Sprintf("the redirect chain now ends on %s, expected %s", final.Hostname(), want), nil)
		return
	}
	if want := t.Expect.BodyContains; want != "" && !bytes.Contains(body, []byte(want)) {
		c.fail(r, CauseContentMismatch, fmt.Sprintf("expected text %q not found in the first %d KiB of %s", want, (len(body)+1023)/1024, final), nil)
		return
	}
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// readBody is what was read of a body: the bytes kept (when the caller
// needs them) and the count of those discarded.
type readBody struct {
	data      []byte
	discarded int64
}

// fetch sends one request (HEAD first when configured, falling back to GET)
// and reads at most MaxBodyBytes of the answer.
func (c *Checker) fetch(ctx context.Context, client *http.Client, u *url.URL, keepBody bool) (*http.Response, readBody, *Hop, error) {
	method := http.MethodGet
	if c.opts.HEADFirst && !keepBody {
		method = http.MethodHead
	}
	resp, body, hop, err := c.do(ctx, client, method, u, keepBody, nil)
	if err == nil && method == http.MethodHead {
		switch resp.StatusCode {
		case http.StatusMethodNotAllowed, http.StatusForbidden, http.StatusNotImplemented:
			// Many servers refuse HEAD but serve GET: ask again properly.
			return c.do(ctx, client, http.MethodGet, u, keepBody, nil)
		}
	}
	return resp, body, hop, err
}

func (c *Checker) do(ctx context.Context, client *http.Client, method string, u *url.URL, keepBody bool, header http.Header) (*http.Response, readBody, *Hop, error) {
	tr := &hopTrace{}
	req, err := http.NewRequestWithContext(withTrace(ctx, tr), method, u.String(), nil)
	if err != nil {
		return nil, readBody{}, nil, err
	}
	req.Header.Set("User-Agent", c.opts.UserAgent)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	for k, v := range header {
		req.Header[k] = v
	}
	hop := &Hop{URL: u.String()}
	resp, err := client.Do(req)
	if err != nil {
		hop.Phases = tr.phases()
		// The dial outlives the request (the transport detaches it from
		// the request's context), so when the check's deadline passes
		// mid-dial, only the trace knows that the host never answered
		// DNS or never accepted the connection: not a slow answer.
		if errors.Is(err, context.DeadlineExceeded) {
			switch {
			case tr.resolving():
				err = &dnsError{host: u.Hostname(), err: &net.DNSError{Err: "timed out", Name: u.Hostname(), IsTimeout: true}}
			case tr.connecting():
				err = &connectTimeoutError{err: err}
			}
		}
		return nil, readBody{}, hop, err
	}
	defer resp.Body.Close()
	var body readBody
	limited := io.LimitReader(resp.Body, c.opts.MaxBodyBytes)
	if keepBody {
		body.data, err = io.ReadAll(limited)
	} else {
		body.discarded, err = io.Copy(io.Discard, limited)
	}
	tr.mark(&tr.done)
	hop.StatusCode, hop.Location, hop.Phases = resp.StatusCode, resp.Header.Get("Location"), tr.phases()
	if err != nil {
		return nil, body, hop, err
	}
	return resp, body, hop, nil
}

// checkSelf requests the hub's own short link without following it: the
// hub must answer 302 to the configured destination.
func (c *Checker) checkSelf(ctx context.Context, t Target, r *Result) {
	u, err := url.Parse(t.URL)
	if err != nil {
		c.fail(r, CauseHubRedirectWrong, fmt.Sprintf("self-check URL %q is invalid", t.URL), err)
		return
	}
	resp, _, hop, err := c.do(ctx, c.self, http.MethodGet, u, false, http.Header{SelfCheckHeader: {c.selfToken()}})
	if hop != nil {
		r.Hops = []Hop{*hop}
	}
	if err != nil {
		cause, summary := classify(err, u)
		c.fail(r, cause, "hub self-check: "+summary, err)
		return
	}
	r.StatusCode = resp.StatusCode
	loc := resp.Header.Get("Location")
	switch {
	case resp.StatusCode != http.StatusFound:
		c.fail(r, CauseHubRedirectWrong, fmt.Sprintf("the hub answered %d %s for %s, want 302 to %s", resp.StatusCode, http.StatusText(resp.StatusCode), u.Path, t.WantLocation), nil)
	case loc != t.WantLocation:
		c.fail(r, CauseHubRedirectWrong, fmt.Sprintf("the hub redirects %s to %s, want %s", u.Path, loc, t.WantLocation), nil)
	default:
		r.FinalURL = loc
	}
}

// classify names the cause of a request error and says it in one line.
func classify(err error, u *url.URL) (Cause, string) {
	host := u.Hostname()
	var (
		dnsErr      *dnsError
		blocked     *blockedError
		invalid     x509.CertificateInvalidError
		hostnameErr x509.HostnameError
		unknownCA   x509.UnknownAuthorityError
		opErr       *net.OpError
		netErr      net.Error
		connTimeout *connectTimeoutError
	)
	switch {
	case errors.As(err, &dnsErr):
		var de *net.DNSError
		if errors.As(dnsErr.err, &de) {
			if de.IsNotFound {
				return CauseDNS, fmt.Sprintf("DNS lookup for %s: no such host", host)
			}
			if de.IsTimeout {
				return CauseDNS, fmt.Sprintf("DNS lookup for %s: timed out", host)
			}
			// Go's resolver puts the resolver's address in some errors
			// ("read udp 10.0.0.2:5353->10.0.0.53:53: ..."): the summary is
			// public (status page, feeds), so it says only what kind of
			// failure; the error, kept as evidence, has the rest.
			if publicDNSReasons[de.Err] {
				return CauseDNS, fmt.Sprintf("DNS lookup for %s: %s", host, de.Err)
			}
		}
		return CauseDNS, fmt.Sprintf("DNS lookup for %s failed: the resolver did not answer it", host)
	case errors.As(err, &blocked):
		return CauseBlocked, "refused by the SSRF guard: " + blocked.Error()
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return CauseTLSExpired, fmt.Sprintf("TLS certificate for %s expired on %s", host, invalid.Cert.NotAfter.UTC().Format("2006-01-02"))
	case errors.As(err, &invalid):
		return CauseTLSUntrusted, fmt.Sprintf("TLS certificate for %s is invalid: %s", host, invalid.Detail)
	case errors.As(err, &hostnameErr):
		return CauseTLSHostname, fmt.Sprintf("TLS certificate is not valid for %s (it names %s)", host, certNames(hostnameErr.Certificate))
	case errors.As(err, &unknownCA):
		return CauseTLSUntrusted, fmt.Sprintf("TLS certificate for %s is signed by an unknown authority", host)
	case errors.As(err, &opErr) && opErr.Op == "dial" && isRefused(opErr):
		return CauseConnectRefused, fmt.Sprintf("connection to %s refused", hostPort(u))
	case errors.As(err, &connTimeout) || errors.As(err, &opErr) && opErr.Op == "dial" && (opErr.Timeout() || errors.Is(err, context.DeadlineExceeded)):
		return CauseConnectTimeout, fmt.Sprintf("connecting to %s timed out", hostPort(u))
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		return CauseTimeout, fmt.Sprintf("%s did not answer in time", u)
	default:
		return CauseConnectionFailure, fmt.Sprintf("request to %s failed: %v", hostPort(u), rootCause(err))
	}
}

// publicDNSReasons are net.DNSError texts that name no address, safe for a
// public summary.
var publicDNSReasons = map[string]bool{
	"server misbehaving": true, "no such host": true, "i/o timeout": true,
	"no answer from DNS server": true, "cannot unmarshal DNS message": true,
}

// connectTimeoutError is a request whose deadline passed while it was still
// connecting.
type connectTimeoutError struct{ err error }

func (e *connectTimeoutError) Error() string { return "connect: " + e.err.Error() }
func (e *connectTimeoutError) Unwrap() error { return e.err }

func isRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

func certNames(c *x509.Certificate) string {
	if c == nil {
		return "no name"
	}
	if len(c.DNSNames) > 0 {
		return strings.Join(c.DNSNames, ", ")
	}
	return c.Subject.CommonName
}

// rootCause strips url.Error's "Get \"...\": " prefix, which repeats the URL.
func rootCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
