// Package mesh is the runtime every ShopMesh service stands on: a service
// writes its own events to a JetStream stream, keeps its state by
// projecting streams into a local bbolt file, reacts to other services'
// events, and publishes read models to a KV bucket. Example_service (in
// example_test.go) is a whole service in a page.
//
// A service writes with Decide. Each command reads a Snapshot of its state
// from bbolt, with where each entity it read stood (Positions), calls the
// pure domain rule, and gets events. Guard gives each event the
// expectation that its entity is still where the decision read it, and
// the Writer publishes them one at a time, so that a concurrent writer
// makes JetStream refuse the stale one (ErrConflict) instead of losing an
// update. On a conflict the Writer waits for its projection to apply the
// event that won and decides again. It returns once its own Projection has
// applied the events: the client that asked reads its own write.
//
// A Projection feeds every event of one or more streams to a Projector,
// inside the bbolt transaction that also records the stream position, so
// each event is applied exactly once and the file can be deleted and
// rebuilt from the streams at any time (OpenDB, PrepareState). The views
// that Apply returns are written to an outbox in the same transaction and
// then published to Views, the service's KV read model, which never goes
// backwards.
//
// A Reaction is a service's durable interest in another stream. A Reactor
// hands each event to its Handler, which sends one command to the
// service's own application, caused by the event (CausedBy). A failure is
// retried with backoff for as long as it takes; an error marked Permanent
// parks the event in the dead-letter stream at once, and one marked NotYet
// (an answer ahead of the state it follows) once the event is
// ReactionOptions.AheadFor old.
//
// Before any Projector or Handler sees an event, the runtime checks it
// against the Contracts of the Node: one that breaks the contract of its
// type is set aside by a projection, and given to the dead letters by a
// reaction, with the reason (ErrBrokenContract). Nothing applies it.
//
// A Plan declares what a service does on NATS (its stream, what it reads,
// its bucket and durable consumers), which Provision creates. A Node is
// what a process gives its services: connections, where state lives, the
// HTTP server and the observers. In Start a service opens its Runtime
// (Node.Open), projects into it, which gives it its Writer, registers its
// HTTP operations and starts its reactions; Runtime.Stop undoes it all in
// order. CommandHandler and QueryHandler are the use cases of a service's
// application; Observed and ObservedQuery wrap them with logs, metrics and
// a span.
//
// Subjects are read with the grammar of package mesh/subject, the one the
// event contracts are built with. The edges live in their own packages:
// httpapi serves the HTTP APIs, observe holds the metrics and tracing, ops
// runs the NATS server and the dead-letter tools, paging pages list
// queries.
package mesh
