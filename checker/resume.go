package checker

import "crypto/tls"

// Between fresh checks, a host that keeps no connection (past
// Options.KeepAliveHosts) is reached over a new connection that resumes the
// TLS session of an earlier check instead of a full handshake: DNS is
// resolved and TCP connected as for a visitor, but the certificate chain
// is the one verified by the host's last fresh check (the client still
// refuses to resume once a certificate of it has expired). A full
// handshake costs two ECDSA verifications and a post-quantum key share,
// most of a check's CPU; a resumed one costs a key exchange.

// sessionCacheSize bounds the TLS sessions remembered, one per server (host
// and port):
// a few hundred bytes each (the ticket and secrets; the certificates are
// shared with the connections that verified them). A host evicted from it
// gets a full handshake, which is only slower.
const sessionCacheSize = 1 << 16

// resumeCurves are offered by checks that may resume: P-256 (the group
// every TLS 1.3 server must implement, RFC 8446 section 9.1) and P-384,
// without the X25519MLKEM768 share Go offers by default. A resumed check's
// key exchange protects a session the fresh check already established
// with a browser's offer; making the post-quantum share again (an ML-KEM
// key and its decapsulation) would cost more than the rest of the
// handshake, and Go's P-256, with its precomputed tables, costs half of
// X25519 here (BENCHMARKS.md). Go sends a key share for the first group
// only, and X25519 would come first, so it is left out. A server that
// accepts neither group refuses the handshake: the check is made again,
// fresh, and the host's later one-shot checks offer the default groups
// (Checker.using).
var resumeCurves = []tls.CurveID{tls.CurveP256, tls.CurveP384}

// storeOnlySessions is the session cache of fresh checks: they never
// resume (Get finds nothing, so the handshake is full and the certificate
// verified), but the session they establish is stored for the checks in
// between to resume.
type storeOnlySessions struct{ tls.ClientSessionCache }

func (storeOnlySessions) Get(string) (*tls.ClientSessionState, bool) { return nil, false }

// resumeOnlySessions is the session cache of the checks between fresh
// ones: they resume the session the host's last fresh check stored and
// store none of their own, though servers send new tickets on resumed
// connections too. A ticket from a resumed connection carries the
// certificate chain of the session it resumed, and a check that began
// before the host's last fresh check and ended after it would put that
// older chain back in place of the one just verified. Deleting a session
// (Go does when it is no longer valid) is passed on.
type resumeOnlySessions struct{ tls.ClientSessionCache }

func (s resumeOnlySessions) Put(key string, cs *tls.ClientSessionState) {
	if cs == nil {
		s.ClientSessionCache.Put(key, nil)
	}
}

// serverSessions is a session cache seen from one server, addr (host:port,
// lowercased): crypto/tls keys sessions by server name alone, so the
// servers of one host on two ports would be offered each other's sessions.
// They are two servers: one that shares its ticket keys with the other
// would resume a session the other established, and the certificate the
// check relies on would be the other's, verified for the other.
type serverSessions struct {
	tls.ClientSessionCache
	addr string
}

func (s serverSessions) Get(string) (*tls.ClientSessionState, bool) {
	return s.ClientSessionCache.Get(s.addr)
}

func (s serverSessions) Put(_ string, cs *tls.ClientSessionState) {
	s.ClientSessionCache.Put(s.addr, cs)
}
