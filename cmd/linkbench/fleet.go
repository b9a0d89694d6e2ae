package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// runFleet serves fake destinations on `listeners` loopback ports until ctx
// ends, printing one "port N" line per listener, then "ready". Every path
// answers after -latency; -fail of them (by path hash) answer 503. With
// -tls-cert and -tls-key it serves as many HTTPS listeners besides ("tlsport
// N"), with HTTP/2 as a real site would.
func runFleet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("linkbench fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listeners := fs.Int("listeners", 16, "loopback listeners")
	latency := fs.Duration("latency", 50*time.Millisecond, "answer latency")
	fail := fs.Float64("fail", 0, "fraction of destinations answering 503")
	certFile := fs.String("tls-cert", "", "PEM certificate for the HTTPS listeners")
	keyFile := fs.String("tls-key", "", "PEM key for the HTTPS listeners")
	page := fs.String("page", "", "a file the bare server answers /page with, gzip-encoded (read once it exists): the floor of a status page hammered")
	spread := fs.Bool("spread", false, "each HTTP listener on its own loopback address (127.0.0.2, 127.0.0.3, ...): one host each, as replicas split by host")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var downMu sync.RWMutex
	down := map[string]bool{} // paths switched off through /control/down
	var served atomic.Int64   // requests to destinations, read through /control/count
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/control/count" {
			fmt.Fprintln(w, served.Load())
			return
		}
		served.Add(1)
		if p, ok := strings.CutPrefix(r.URL.Path, "/control/down"); ok {
			downMu.Lock()
			down[p] = true
			downMu.Unlock()
			return
		}
		downMu.RLock()
		isDown := down[r.URL.Path]
		downMu.RUnlock()
		if isDown {
			// A cause of its own (404, not the 503 of the destinations failing
			// on purpose): it opens an incident of its own, the outage whose
			// time to alert is measured, instead of joining theirs as an
			// update (held for alerts.group_interval).
			http.Error(w, "fleet: switched off", http.StatusNotFound)
			return
		}
		// Jitter of ±20% so answers do not arrive in lockstep.
		d := time.Duration(float64(*latency) * (0.8 + 0.4*rand.Float64()))
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
		if *fail > 0 && float64(hash(r.URL.Path)%1000)/1000 < *fail {
			http.Error(w, "fleet: failing on purpose", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<html><body>"+strings.Repeat("fleet destination ", 64)+"</body></html>")
	})
	var servers []*http.Server
	for i := range *listeners {
		host := "127.0.0.1"
		if *spread {
			host = fmt.Sprintf("127.0.%d.%d", (i+2)/250, (i+2)%250+1)
		}
		ln, err := net.Listen("tcp", host+":0")
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
		servers = append(servers, srv)
		go func() { _ = srv.Serve(ln) }()
		fmt.Fprintf(stdout, "port %d\n", ln.Addr().(*net.TCPAddr).Port)
		if *spread {
			fmt.Fprintf(stdout, "addr %s\n", ln.Addr())
		}
	}
	for range *listeners {
		if *certFile == "" {
			break
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
		servers = append(servers, srv)
		go func() { _ = srv.ServeTLS(ln, *certFile, *keyFile) }()
		fmt.Fprintf(stdout, "tlsport %d\n", ln.Addr().(*net.TCPAddr).Port)
	}
	// A bare handler answering a fixed 302: the physical limit of a
	// redirect on this machine, to compare linkwatch with in the same run.
	bare, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	// With -page it also answers /page with the file's bytes, gzipped as
	// linkwatch sends its status page: the same page, hammered, at no
	// more cost than writing it out.
	var pageMu sync.Mutex
	var pageBody []byte
	bareSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/page" && *page != "" {
			pageMu.Lock()
			if pageBody == nil {
				pageBody, _ = os.ReadFile(*page)
			}
			body := pageBody
			pageMu.Unlock()
			if body == nil {
				http.Error(w, "fleet: no page yet", http.StatusNotFound)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			_, _ = w.Write(body)
			return
		}
		w.Header().Set("Location", "https://example.com/")
		w.WriteHeader(http.StatusFound)
	}), ReadHeaderTimeout: 5 * time.Second}
	servers = append(servers, bareSrv)
	go func() { _ = bareSrv.Serve(bare) }()
	fmt.Fprintf(stdout, "bare %d\n", bare.Addr().(*net.TCPAddr).Port)
	fmt.Fprintln(stdout, "ready")
	<-ctx.Done()
	for _, s := range servers {
		_ = s.Close()
	}
	return nil
}

func hash(s string) uint32 {
	var h uint32 = 2166136261
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}
