// Package events holds the contracts every service shares: the Go type of
// each event, its subject and its versioned type. It imports only the
// standard library, so any layer may depend on it.
package events

import "strings"

// Event is implemented by every contract in this package.
type Event interface {
	EventSubject() string
	EventType() string
}

// Money is an amount in integer minor units (cents) of an ISO 4217 currency.
type Money struct {
	Amount   int64  `json:"amount" jsonschema:"minimum=0"`
	Currency string `json:"currency" jsonschema:"pattern=^[A-Z]{3}$"`
}

// Subject builds the four-token subject <service>.<entity>.<id>.<event>.
func Subject(service, entity, id, event string) string {
	return service + "." + entity + "." + id + "." + event
}

// Entity names one entity, the first three tokens of its subjects: what
// a decision's snapshot reads the position of.
func Entity(service, entity, id string) string {
	return service + "." + entity + "." + id
}

// EntityFilter matches every event of one entity.
func EntityFilter(service, entity, id string) string {
	return Entity(service, entity, id) + ".*"
}

// IDOf returns the id token of a four-token subject.
func IDOf(subject string) string {
	parts := strings.Split(subject, ".")
	if len(parts) < 3 {
		return ""
	}
	return parts[2]
}

func typeName(service, entity, event string) string {
	return "shopmesh." + service + "." + entity + "." + event + ".v1"
}

// All returns one zero value of every event, for schema generation and
// checks that must cover each contract.
func All() []Event {
	out := make([]Event, 0, len(zeros))
	for _, t := range sortedTypes() {
		out = append(out, zeros[t])
	}
	return out
}
