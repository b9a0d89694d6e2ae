package storage

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	"linkwatch"
	"linkwatch/incidents"
)

// NewChannelLookback is how far back a channel added to the config picks up
// alerts, so adding one does not replay the whole history to it.
const NewChannelLookback = time.Hour

// NewEventID returns a random id for an alert, in the msg_ form the
// Standard Webhooks spec shows. It is made once, when the alert is stored,
// so it stays the same across retries.
func NewEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "msg_" + hex.EncodeToString(b[:])
}

// ChangeAlert is the outbox alert of a change once stored: the change's
// alert about the saved incident, with the public update stored with it,
// an event id and a creation time (now) when it has none. It is nil when
// the change sends none.
func ChangeAlert(c incidents.Change, saved linkwatch.Incident, update *linkwatch.Update, now time.Time) *linkwatch.Alert {
	if c.Alert == nil {
		return nil
	}
	a := *c.Alert
	a.IncidentID, a.Incident = saved.ID, saved
	if update != nil {
		a.Update = update
	}
	if a.EventID == "" {
		a.EventID = NewEventID()
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = now
	}
	return &a
}
