package main

//go:generate go run . asyncapi -o ../../schemas/asyncapi.json

import (
	"io"

	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/schemas"
)

// asyncAPI is the AsyncAPI document of the mesh: every event and who sends
// it (from package events), and who receives which subjects through which
// durable consumer, from the services' plans, which are what is
// provisioned, so the document cannot drift from what runs. It is made
// here because only this package sees both the schemas and the services.
func asyncAPI(c config) ([]byte, error) {
	return schemas.AsyncAPI(receivers(allPlans(c)))
}

// receivers are the durable consumers of the plans.
func receivers(plans []mesh.Plan) []schemas.Receiver {
	var out []schemas.Receiver
	for _, p := range plans {
		for _, d := range p.Durables {
			out = append(out, schemas.Receiver{Service: p.Service, Durable: d.Name, Stream: d.Stream, Subjects: d.Subjects})
		}
	}
	return out
}

// asyncAPICommand prints the AsyncAPI document, as schemas/asyncapi.json
// holds it (go generate writes that file) and /asyncapi.json serves it.
func asyncAPICommand(args []string, stdout io.Writer) error {
	return generatedCommand("asyncapi", args, stdout, func() ([]byte, error) { return asyncAPI(defaultConfig()) })
}
