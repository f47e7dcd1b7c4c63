// Package subject is the grammar of the mesh's event subjects, written
// once: <service>.<entity>.<id>.<event>, such as
// "orders.order.7KQ2.placed". The first three tokens name the entity an
// event is about, which is what concurrency checks and ordering work on;
// the third is its id. Package events builds its subjects with it and
// package mesh reads them with it, so the two cannot disagree.
//
// It imports only the standard library, so the contracts in events may
// depend on it.
package subject

import "strings"

// Any is the NATS wildcard that matches exactly one token.
const Any = "*"

// Of builds the subject of one event of one entity.
func Of(service, entity, id, event string) string {
	return EntityOf(service, entity, id) + "." + event
}

// EntityOf names one entity: the first three tokens of its subjects.
func EntityOf(service, entity, id string) string {
	return service + "." + entity + "." + id
}

// Entity returns the first three tokens of a subject: service, entity and
// id. A subject of fewer tokens is returned whole.
func Entity(subject string) string {
	parts := strings.SplitN(subject, ".", 4)
	return strings.Join(parts[:min(3, len(parts))], ".")
}

// EntityFilter matches every event of the entity a subject is about, the
// filter a write's expected sequence is checked on.
func EntityFilter(subject string) string {
	return Entity(subject) + "." + Any
}

// Service returns the first token of a subject: the service that owns it.
func Service(subject string) string {
	service, _, _ := strings.Cut(subject, ".")
	return service
}

// ID returns the id token of a subject, or "" when it has fewer than
// three tokens.
func ID(subject string) string {
	parts := strings.SplitN(subject, ".", 4)
	if len(parts) < 3 {
		return ""
	}
	return parts[2]
}

// WithID returns the subject with its id token replaced by id. A subject
// of fewer than three tokens has no id and is returned as it is.
func WithID(subject, id string) string {
	parts := strings.SplitN(subject, ".", 4)
	if len(parts) < 3 {
		return subject
	}
	parts[2] = id
	return strings.Join(parts, ".")
}

// Pattern matches the same kind of event as subject on every entity of
// its kind: "orders.order.7KQ2.placed" gives "orders.order.*.placed".
func Pattern(subject string) string {
	return WithID(subject, Any)
}
