package console

import (
	"strings"

	"github.com/shopmesh/shopmesh/mesh"
)

// Edge is a path events take from one service to another: a reaction's
// durable consumer, or a projection that reads the whole stream.
type Edge struct {
	From     string   `json:"from" example:"orders"`
	To       string   `json:"to" example:"inventory"`
	Consumer string   `json:"consumer,omitempty" doc:"The durable consumer of the reaction; empty for a projection." example:"inventory-on-orders"`
	Subjects []string `json:"subjects" example:"[\"orders.order.*.placed\"]"`
}

// graph is the mesh as the plans draw it.
type graph struct {
	services []string
	// streams maps each service's stream to the service.
	streams map[string]string
	edges   []Edge
}

// newGraph draws an edge for every durable a service has on another's
// stream, and one for every other stream it reads (a projection, which
// reads all of it). A service's durable on its own stream (the orders'
// timers) is no edge between services.
func newGraph(plans []mesh.Plan) graph {
	g := graph{streams: map[string]string{}}
	for _, p := range plans {
		g.services = append(g.services, p.Service)
		g.streams[p.Writes.Name] = p.Service
	}
	for _, p := range plans {
		reacted := map[string]bool{}
		for _, d := range p.Durables {
			reacted[d.Stream] = true
			if from := g.streams[d.Stream]; from != p.Service {
				g.edges = append(g.edges, Edge{From: from, To: p.Service, Consumer: d.Name, Subjects: d.Subjects})
			}
		}
		for _, s := range p.Reads {
			if !reacted[s.Name] && g.streams[s.Name] != "" {
				g.edges = append(g.edges, Edge{From: g.streams[s.Name], To: p.Service, Subjects: []string{g.streams[s.Name] + ".>"}})
			}
		}
	}
	return g
}

// receivers are the services an event on subject travels to.
func (g graph) receivers(subject string) []string {
	to := []string{}
	for _, e := range g.edges {
		for _, f := range e.Subjects {
			if matches(f, subject) {
				to = append(to, e.To)
				break
			}
		}
	}
	return to
}

// matches reports whether a NATS subject matches filter, with its
// wildcards: * for one token, > for the rest.
func matches(filter, subject string) bool {
	fs, ss := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, f := range fs {
		switch {
		case f == ">":
			return len(ss) > i
		case i >= len(ss):
			return false
		case f != "*" && f != ss[i]:
			return false
		}
	}
	return len(fs) == len(ss)
}
