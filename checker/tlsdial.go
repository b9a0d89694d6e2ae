package checker

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
)

// dialTLS is the DialTLSContext of t: it dials with dial, then shakes
// hands as t would, over a copy of t's TLS config whose session cache sees
// only the sessions of the server dialed, host and port (serverSessions).
// The handshake is bounded by t.TLSHandshakeTimeout, and reported to the
// request's trace; t sees a *tls.Conn already shaken, so it reads its state
// (ALPN, certificates) as from its own.
func dialTLS(dial func(context.Context, string, string) (net.Conn, error), t *http.Transport) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		// Read now, not when t is built: t adds its ALPN protocols to its
		// config on its first request.
		cfg := t.TLSClientConfig.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		if cfg.ClientSessionCache != nil {
			cfg.ClientSessionCache = serverSessions{cfg.ClientSessionCache, strings.ToLower(addr)}
		}
		tc := tls.Client(conn, cfg)
		trace := httptrace.ContextClientTrace(ctx)
		if trace != nil && trace.TLSHandshakeStart != nil {
			trace.TLSHandshakeStart()
		}
		hctx, cancel := context.WithTimeout(ctx, t.TLSHandshakeTimeout)
		defer cancel()
		err = tc.HandshakeContext(hctx)
		var state tls.ConnectionState
		if err == nil {
			state = tc.ConnectionState()
		}
		if trace != nil && trace.TLSHandshakeDone != nil {
			trace.TLSHandshakeDone(state, err)
		}
		if err != nil {
			conn.Close()
			return nil, err
		}
		return tc, nil
	}
}
