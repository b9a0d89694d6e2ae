package config

import "time"

// validate reports every problem of a config after its defaults, section by
// section, each section's rules in its own file. It changes nothing: what a
// default or a derived value needs is set in applyDefaults or computed
// where it is read. minInterval is the shortest probe.interval allowed
// (see intervalLimit).
func (c *Config) validate(cerr *Error, minInterval time.Duration) {
	c.Server.validate(cerr)
	c.Storage.validate(cerr)
	c.Probe.validate(cerr, minInterval)
	c.Alerts.validate(cerr)
	c.validatePages(cerr)
	c.validateAlertScopes(cerr)
}
