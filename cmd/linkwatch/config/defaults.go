package config

import (
	"net"
	"strings"
	"time"

	"linkwatch"
	"linkwatch/alerting"
	"linkwatch/checker"
	"linkwatch/checker/schedule"
	"linkwatch/incidents"
)

// applyDefaults fills in every value the file leaves out. It is the one
// place a default is set: validation after it only reads, and serve passes
// the values on as they are. A default a package also applies to an
// option left zero is that package's exported constant, used here.
// A zero the file sets is a value (fresh_every: 0, every check fresh;
// group_interval: 0, no grouping), and means that all the way.
func (c *Config) applyDefaults() {
	if c.Server.Addr == "" {
		c.Server.Addr = ":8080"
	}
	c.Server.PublicURLSet = c.Server.PublicURL != ""
	if c.Server.PublicURL == "" {
		host, port, err := net.SplitHostPort(c.Server.Addr)
		if err == nil {
			if host == "" || host == "0.0.0.0" || host == "::" {
				host = "localhost"
			}
			c.Server.PublicURL = "http://" + net.JoinHostPort(host, port)
		}
	}
	c.Server.PublicURL = strings.TrimRight(c.Server.PublicURL, "/")
	setDefaultPtr(&c.Server.DrainDelay, 5*time.Second)
	if c.Storage.Driver == "" {
		c.Storage.Driver = DriverSQLite
	}
	if c.Storage.Path == "" && c.Storage.Driver == DriverSQLite {
		c.Storage.Path = "linkwatch.db"
	}
	if c.Server.RateLimit.PerSecond == 0 {
		c.Server.RateLimit.PerSecond = 20
	}
	if c.Server.RateLimit.Burst == 0 {
		c.Server.RateLimit.Burst = 60
	}
	if c.Server.RateLimit.IPv6Prefix == 0 {
		c.Server.RateLimit.IPv6Prefix = 64
	}
	r := &c.Storage.Retention
	setDefault(&r.Raw, 48*time.Hour)
	setDefault(&r.MinuteRollups, 7*24*time.Hour)
	setDefault(&r.Rollups, 90*24*time.Hour)
	p := &c.Probe
	setDefault(&p.Interval, linkwatch.DefaultInterval)
	setDefault(&p.Timeout, checker.DefaultTimeout)
	setDefault(&p.HubSlow, checker.DefaultSlowThreshold)
	setDefaultPtr(&p.FreshEvery, checker.DefaultFreshEvery)
	setDefaultPtr(&p.TLSWarn, checker.DefaultTLSWarn)
	if p.Workers == 0 {
		p.Workers = schedule.DefaultWorkers
	}
	if p.PerHost == 0 {
		p.PerHost = checker.DefaultPerHostConcurrency
	}
	if p.KeepAliveHosts == 0 {
		p.KeepAliveHosts = checker.DefaultKeepAliveHosts
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = incidents.DefaultFailureThreshold
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = incidents.DefaultSuccessThreshold
	}
	if p.SelfCheck == nil {
		on := true
		p.SelfCheck = &on
	}
	if c.Alerts.GroupInterval == nil {
		d := Duration(incidents.DefaultGroupInterval)
		c.Alerts.GroupInterval = &d
	}
	setDefaultPtr(&c.Alerts.DatabaseOutageAfter, alerting.DefaultDatabaseOutageAfter)
	if e := c.Alerts.Email; e != nil {
		e.applyDefaults()
	}
	if dd := c.Alerts.DataDog; dd != nil && dd.Addr == "" {
		dd.Addr = "127.0.0.1:8125"
	}
}

func setDefault(d *Duration, v time.Duration) {
	if *d == 0 {
		*d = Duration(v)
	}
}

func setDefaultPtr(d **Duration, v time.Duration) {
	if *d == nil {
		dv := Duration(v)
		*d = &dv
	}
}
