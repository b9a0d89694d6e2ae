package main

import (
	"linkwatch/hub"
	"linkwatch/incidents"
)

// hubHealth passes the incident engine's link health to the hub, which
// does not import incidents.
type hubHealth struct{ hub *hub.Server }

func (h hubHealth) ObserveHealth(in incidents.Health) {
	links := make(map[hub.LinkKey]hub.LinkHealth, len(in.Links))
	for _, l := range in.Links {
		links[hub.LinkKey{Page: l.Page, Link: l.Link}] = hub.LinkHealth{Down: l.Down, Fallback: l.Fallback}
	}
	h.hub.SetHealth(hub.NewHealth(links))
}
