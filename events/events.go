// Package events holds the contracts every service shares: the Go type of
// each event, its subject and its versioned type. Each event type owns its
// subject, so the subjects a service reacts to are named by the event
// types (Patterns), never written out by hand. It imports only the
// standard library and the subject grammar (mesh/subject, itself only the
// standard library), so any layer may depend on it.
package events

import "github.com/shopmesh/shopmesh/mesh/subject"

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
	return subject.Of(service, entity, id, event)
}

// Entity names one entity, the first three tokens of its subjects: what
// a decision's snapshot reads the position of.
func Entity(service, entity, id string) string {
	return subject.EntityOf(service, entity, id)
}

// EntityFilter matches every event of one entity.
func EntityFilter(service, entity, id string) string {
	return subject.Of(service, entity, id, subject.Any)
}

// IDOf returns the id token of a subject: the entity an event is about, or
// the order of a fired deadline.
func IDOf(s string) string { return subject.ID(s) }

// Pattern matches one kind of event on every entity: Pattern(OrderPlaced{})
// is "orders.order.*.placed". It is the event's own subject with its id
// replaced, so a reaction's filter cannot drift from what is published.
func Pattern(e Event) string { return subject.Pattern(e.EventSubject()) }

// Patterns are the Patterns of evs, in their order: the filter subjects of
// a durable consumer that reacts to those kinds of event.
func Patterns(evs ...Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = Pattern(e)
	}
	return out
}

func typeName(service, entity, event string) string {
	return "shopmesh." + service + "." + entity + "." + event + ".v1"
}
