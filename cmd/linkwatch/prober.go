package main

import (
	"time"

	"linkwatch"
	"linkwatch/checker"
	"linkwatch/cmd/linkwatch/config"
)

// newChecker is the prober of cfg; diverted says when a self-check may
// find a link on its fallback (nil: never, as in check, which runs no
// self-check); now is the clock its results are stamped by (nil:
// time.Now).
func newChecker(cfg *config.Config, selfToken string, diverted func(linkwatch.Target, time.Time) bool, now func() time.Time) *checker.Checker {
	p := cfg.Probe
	return checker.New(checker.Options{
		Timeout:            time.Duration(p.Timeout),
		UserAgent:          p.UserAgent,
		AllowPrivate:       p.AllowPrefixes(),
		PerHostConcurrency: p.PerHost,
		SlowThreshold:      time.Duration(p.HubSlow),
		HEADFirst:          p.HeadFirst,
		SelfCheckToken:     selfToken,
		Diverted:           diverted,
		FreshEvery:         time.Duration(*p.FreshEvery),
		TLSWarn:            time.Duration(*p.TLSWarn),
		KeepAliveHosts:     p.KeepAliveHosts,
		Now:                now,
	})
}
