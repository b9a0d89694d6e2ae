package linkwatch

import (
	"time"
)

// AlertVerify is the event a new subscription must answer with 2xx before
// it gets any other.
const AlertVerify AlertType = "subscription.verify"

// SubscriptionState is where a subscription stands.
type SubscriptionState string

const (
	// SubscriptionPending: made, waiting for its subscription.verify event
	// to be answered with 2xx.
	SubscriptionPending SubscriptionState = "pending_verification"
	SubscriptionActive  SubscriptionState = "active"
	SubscriptionPaused  SubscriptionState = "paused"
	// SubscriptionDisabled: its receiver answered 410 Gone.
	SubscriptionDisabled SubscriptionState = "disabled"
)

// SecretOverlap is how long both the old and the new secret sign every
// delivery after a rotation, so receivers can switch without losing one.
const SecretOverlap = 24 * time.Hour

// Subscription is a webhook receiver added through the admin API, stored
// in the database beside the YAML ones. Its deliveries are the outbox
// channel Channel() ("sub:<id>").
type Subscription struct {
	ID          int64  `json:"id"`
	URL         string `json:"url"`
	Description string `json:"description"`
	Filter      Filter `json:"filters"`
	// Secret signs every delivery; PreviousSecret too, until
	// PreviousUntil. Never shown after they are made.
	Secret         string    `json:"-"`
	PreviousSecret string    `json:"-"`
	PreviousUntil  time.Time `json:"previous_secret_expires_at,omitzero"`
	Paused         bool      `json:"paused"`
	VerifiedAt     time.Time `json:"verified_at,omitzero"`
	// VerifyDue is set while a verification is to be sent, at VerifyNextAt
	// (zero: now); VerifyError is why the last attempt failed. A failed one
	// is tried again with the deliveries' backoff until their give-up time
	// has passed since the first attempt (VerifyFirstAt); VerifyAttempts
	// counts them.
	VerifyDue      bool      `json:"verification_due"`
	VerifyError    string    `json:"verification_error,omitempty"`
	VerifyAttempts int       `json:"verification_attempts,omitempty"`
	VerifyFirstAt  time.Time `json:"verification_first_attempt_at,omitzero"`
	VerifyNextAt   time.Time `json:"verification_next_at,omitzero"`
	// DisabledAt and DisabledReason: the receiver answered 410 Gone (to a
	// delivery or to its verification).
	DisabledAt     time.Time `json:"disabled_at,omitzero"`
	DisabledReason string    `json:"disabled_reason,omitempty"`
	// FailingSince is the first failed attempt of the current run of
	// failures (zero when the last delivery was sent).
	FailingSince time.Time `json:"failing_since,omitzero"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// State says whether the subscription gets alerts, and if not why.
func (s Subscription) State() SubscriptionState {
	switch {
	case !s.DisabledAt.IsZero():
		return SubscriptionDisabled
	case s.VerifiedAt.IsZero():
		return SubscriptionPending
	case s.Paused:
		return SubscriptionPaused
	}
	return SubscriptionActive
}

// Channel is the subscription's outbox channel name.
func (s Subscription) Channel() string { return SubscriptionChannel(s.ID) }

// SubscriptionPatch is a change to a subscription; nil fields stay as they are.
type SubscriptionPatch struct {
	Filter      *Filter
	Description *string
	Paused      *bool
}

// DeliveryQuery selects deliveries for the admin API's log, newest first.
type DeliveryQuery struct {
	Channel string // "" for every channel
	Before  int64  // only ids below it (0: from the newest)
	Limit   int
}
