// Command healthcheck is the container healthcheck of linkwatch's image
// (compose.yaml runs it as /healthcheck http://127.0.0.1:8080/readyz): it
// GETs one URL and exits 0 on 200 OK, 1 on anything else. The image is FROM
// scratch, with no shell, curl or wget to do it; Kubernetes needs none of
// this, its kubelet sends the probes itself.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"
)

// timeout bounds one check; compose's healthcheck.timeout may stop it
// sooner.
const timeout = 5 * time.Second

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	code := run(ctx, os.Args[1:], os.Stderr)
	cancel()
	os.Exit(code)
}

// run checks the URL of args within ctx and returns the exit code: 0
// healthy, 1 not, 2 for a usage error.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: healthcheck URL (e.g. http://127.0.0.1:8080/readyz)")
		return 2
	}
	u, err := url.Parse(args[0])
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(stderr, "healthcheck: %q is not an http or https URL\n", args[0])
		return 2
	}
	if err := check(ctx, u.String()); err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 1
	}
	return 0
}

// client asks the URL itself: no proxy from the environment, no redirect
// followed (a health endpoint that redirects is not answering).
var client = &http.Client{
	Transport: &http.Transport{Proxy: nil},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

func check(ctx context.Context, target string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", target, resp.Status)
	}
	return nil
}
