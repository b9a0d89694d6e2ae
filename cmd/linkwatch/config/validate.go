package config

// validate reports every problem of a config after its defaults, section by
// section, each section's rules in its own file. It changes nothing: what a
// default or a derived value needs is set in applyDefaults or computed
// where it is read.
func (c *Config) validate(cerr *Error) {
	c.Server.validate(cerr)
	c.Storage.validate(cerr)
	c.Probe.validate(cerr)
	c.Alerts.validate(cerr)
	c.validatePages(cerr)
	c.validateAlertScopes(cerr)
}
