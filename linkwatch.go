// Package linkwatch is the domain of linkwatch, the link hub that watches
// its own health: what is checked (targets), what a check finds (results
// and their one root cause), what failures become (incidents, their
// impact, timeline and public updates), what reaches people (alerts, their
// deliveries and the subscriptions and filters that choose them), the
// replicas sharing the work (members), and the grammar of every id and
// channel name.
//
// Every other package imports it, and it imports nothing of the project,
// so the vocabulary is written once: the checker produces Results, the
// engine turns them into Incidents and Alerts, storage keeps them, the
// status page and the alert channels show them, each in these types.
package linkwatch
