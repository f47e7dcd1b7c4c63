// Package httpapi is the one HTTP server every service of a process
// mounts its API on: a Huma API per service (HTTP.API) with its OpenAPI
// document and try-it page, the admin and customer tokens (Caller,
// CustomerTokens), /healthz and /readyz, /metrics, and a landing page.
//
// Errors leave as RFC 9457 problem documents (WriteProblem), and every
// operation's document shows examples of them (Problem, Problems);
// Unavailable is the 503 for a mesh.Retryable error. Bodies are read whole
// and capped before routing, and LimitListener refuses the connections
// past its cap (ConnectionCap) at once, so that an overloaded process
// answers 503 instead of queueing.
//
// Streams of changes (Server-Sent Events) are served by RegisterStream
// through a Broadcast: the stream is followed once and each change
// encoded once, whatever the number of followers, and Followers bounds
// those per client address and in all (ADR 24).
//
// It knows nothing of the runtime: the runtime registers its readiness
// with ReadyCheck and ReadyNote.
package httpapi
