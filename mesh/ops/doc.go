// Package ops runs and tends the NATS side of a mesh from outside its
// services: StartServer starts an embedded NATS server with JetStream,
// StorageGuard starts its JetStream again when a full disk has room,
// Connect opens a connection that keeps reconnecting, and DeadLetters and
// Redrive let an operator (`shopmesh dlq`, the console) read the events
// reactions gave up on and hand them back.
package ops
