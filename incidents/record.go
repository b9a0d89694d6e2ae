package incidents

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"linkwatch"
)

// What a store does when it records a Change is decided here, once for
// every database: the store reads the rows these rules need, in the
// change's transaction, and writes what they return.

// Over returns the incident row to write over cur, the database's copy of
// the incident the change was computed from. The engine owns the
// detection columns; the acknowledgement, the postmortem and the public
// status belong to people and are kept as cur has them, but for a
// resolution and an operator's update (Update), which set the status, and
// an acknowledgement (Acknowledged), refused as CheckAcknowledge refuses
// cur. A change computed from an older version than cur is refused too
// (ErrConflict): another replica changed the incident since.
func (c Change) Over(cur linkwatch.Incident) (linkwatch.Incident, error) {
	if c.Acknowledged {
		if err := linkwatch.CheckAcknowledge(cur); err != nil {
			return cur, err
		}
	}
	if cur.Version != c.Incident.Version {
		return cur, fmt.Errorf("incident %d changed since version %d (now %d): %w", cur.ID, c.Incident.Version, cur.Version, linkwatch.ErrConflict)
	}
	inc := c.Incident
	inc.StartedAt, inc.Postmortem, inc.Version = cur.StartedAt, cur.Postmortem, cur.Version+1
	if inc.Status != linkwatch.StatusResolved && c.Update == nil {
		inc.Status = cur.Status
	}
	if !c.Acknowledged {
		inc.AcknowledgedAt, inc.AcknowledgedBy = cur.AcknowledgedAt, cur.AcknowledgedBy
	}
	return inc, nil
}

// OutboxAlert is the alert of the change once stored: the change's alert
// about the saved incident, with the public update stored with it, an
// event id and a creation time (now) when it has none. It is nil when the
// change sends none.
func (c Change) OutboxAlert(saved linkwatch.Incident, update *linkwatch.Update, now time.Time) *linkwatch.Alert {
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

// NewEventID returns a random id for an alert, in the msg_ form the
// Standard Webhooks spec shows. It is made once, when the alert is stored,
// so it stays the same across retries.
func NewEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "msg_" + hex.EncodeToString(b[:])
}

// HeldAlert is an incident's alert held back in its group until Due
// (alerts.group_interval), so a burst of updates is one message.
type HeldAlert struct {
	Alert linkwatch.Alert
	Due   time.Time
}

// Grouped is what an alert does to its incident's group: the alerts that
// go to the outbox now, in order, and what the group holds after (nil:
// nothing).
type Grouped struct {
	Send []linkwatch.Alert
	Hold *HeldAlert
}

// Group decides what alert a does, held being the incident's held alert
// (nil for none) and until the change's GroupUntil (zero: not grouped).
// An alert of the held one's reason is merged into it (Alert.Merge), due
// when it was; any other alert releases the held one first, so an
// incident's alerts keep their order.
func Group(held *HeldAlert, a linkwatch.Alert, until time.Time) Grouped {
	var g Grouped
	if held != nil {
		if !until.IsZero() && held.Alert.Reason == a.Reason {
			return Grouped{Hold: &HeldAlert{Alert: held.Alert.Merge(a), Due: held.Due}}
		}
		g.Send = append(g.Send, held.Alert)
	}
	if until.IsZero() {
		g.Send = append(g.Send, a)
	} else {
		g.Hold = &HeldAlert{Alert: a, Due: until}
	}
	return g
}
