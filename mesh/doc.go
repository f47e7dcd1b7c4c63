// Package mesh is the runtime every service is built on: it publishes
// events to JetStream with the expectation that each entity is still where
// the decision read it (Publisher, Guard, Writer), projects streams into a
// service's bbolt state and its KV views (Projection, Views), runs the
// durable consumers of its reactions (Reactor), provisions what a service's
// Plan declares, and serves its HTTP operations.
//
// The services know nothing of NATS beyond what mesh hands them: a
// command's Cause, an Envelope to react to, a Decision to write. Subjects
// are read with the grammar of package mesh/subject, the same one the event
// contracts are built with.
package mesh
