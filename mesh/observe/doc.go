// Package observe is what a ShopMesh process reports to: Prometheus
// Metrics, OpenTelemetry Tracing whose context travels in every event's
// traceparent header, and an Observer that bundles them with a logger for
// the pipeline behaviours (mesh.Observed) and the HTTP server.
//
// It depends on nothing else of the mesh, so the runtime and the HTTP
// server can both report to it. A nil *Metrics or *Tracing records
// nothing, which keeps tests and tools free of registries and exporters.
package observe
