package console

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/httpapi"
	"github.com/shopmesh/shopmesh/mesh/ops"
)

// Consumer is a reaction's durable consumer and how far it is behind.
type Consumer struct {
	Name        string `json:"name" example:"inventory-on-orders"`
	Service     string `json:"service" doc:"The service whose reaction it feeds." example:"inventory"`
	Stream      string `json:"stream" example:"ORDERS"`
	Pending     uint64 `json:"pending" doc:"Events stored that it has not delivered yet."`
	AckPending  int    `json:"ackPending" doc:"Events delivered and not yet acknowledged: being handled."`
	Redelivered int    `json:"redelivered" doc:"Events delivered more than once and still not acknowledged."`
}

// Consumers are the reactions' consumers and the dead letters' count.
type Consumers struct {
	Consumers   []Consumer `json:"consumers"`
	DeadLetters uint64     `json:"deadLetters" doc:"Messages set aside in DEADLETTER (GET /console/dead-letters, admin)."`
}

type consumersOutput struct{ Body Consumers }

// DeadLetter is a message a reaction or projection set aside.
type DeadLetter struct {
	Sequence uint64    `json:"sequence" doc:"Its sequence in DEADLETTER: what a redrive names."`
	Consumer string    `json:"consumer" example:"inventory-on-orders"`
	Subject  string    `json:"subject" example:"orders.order.POISON.placed"`
	Type     string    `json:"type,omitempty"`
	Error    string    `json:"error" doc:"Why it was set aside."`
	Stored   time.Time `json:"stored"`
}

type deadLettersOutput struct {
	Body struct {
		Items []DeadLetter `json:"items"`
	}
}

type redriveInput struct {
	Sequence uint64 `path:"sequence" minimum:"1" doc:"The dead letter's sequence, from GET /console/dead-letters."`
}

func (c *Console) registerConsumers(api huma.API, tags []string) {
	huma.Register(api, huma.Operation{
		OperationID: "listConsumers", Method: http.MethodGet, Path: "/console/consumers",
		Summary: "The reactions' consumers, and the dead letters' count",
		Description: "For each durable consumer of a reaction: events not delivered yet, being handled, and " +
			"redelivered; and how many messages DEADLETTER holds.",
		Tags: tags, Errors: []int{http.StatusServiceUnavailable},
	}, c.consumers)
	huma.Register(api, huma.Operation{
		OperationID: "listDeadLetters", Method: http.MethodGet, Path: "/console/dead-letters",
		Summary: "The dead letters, oldest first", Description: "What shopmesh dlq list shows (admin).",
		Tags: tags, Security: httpapi.AdminSecurity, Errors: []int{http.StatusUnauthorized, http.StatusServiceUnavailable},
	}, c.deadLetters)
	huma.Register(api, huma.Operation{
		OperationID: "redriveDeadLetter", Method: http.MethodPost, Path: "/console/dead-letters/{sequence}/redrive",
		Summary: "Hand a dead letter back to its reaction",
		Description: "What shopmesh dlq redrive does (admin): the reaction handles the letter again and, once it is " +
			"handled, it is removed. A letter a projection set aside is kept to be read (409).",
		Tags: tags, Security: httpapi.AdminSecurity, DefaultStatus: http.StatusNoContent,
		Errors: []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict, http.StatusServiceUnavailable},
	}, c.redrive)
}

func (c *Console) consumers(ctx context.Context, _ *struct{}) (*consumersOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := &consumersOutput{Body: Consumers{Consumers: []Consumer{}}}
	for _, p := range c.opts.Plans {
		for _, d := range p.Durables {
			cons, err := c.opts.JS.Consumer(ctx, d.Stream, d.Name)
			if err != nil {
				return nil, unavailable(err)
			}
			info := cons.CachedInfo()
			out.Body.Consumers = append(out.Body.Consumers, Consumer{
				Name: d.Name, Service: p.Service, Stream: d.Stream,
				Pending: info.NumPending, AckPending: info.NumAckPending, Redelivered: info.NumRedelivered,
			})
		}
	}
	dlq, err := c.opts.JS.Stream(ctx, mesh.DeadLetterStream)
	if err != nil {
		return nil, unavailable(err)
	}
	out.Body.DeadLetters = dlq.CachedInfo().State.Msgs
	return out, nil
}

func (c *Console) deadLetters(ctx context.Context, _ *struct{}) (*deadLettersOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dead, err := ops.DeadLetters(ctx, c.opts.JS)
	if err != nil {
		return nil, unavailable(err)
	}
	out := &deadLettersOutput{}
	out.Body.Items = make([]DeadLetter, len(dead))
	for i, d := range dead {
		out.Body.Items[i] = DeadLetter{Sequence: d.Seq, Consumer: d.Consumer, Subject: d.Subject, Type: d.Type, Error: d.Error, Stored: d.Stored}
	}
	return out, nil
}

func (c *Console) redrive(ctx context.Context, in *redriveInput) (*struct{}, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := ops.Redrive(ctx, c.opts.JS, in.Sequence)
	switch {
	case err == nil:
		return nil, nil
	case errors.Is(err, ops.ErrNoDeadLetter):
		return nil, huma.Error404NotFound(err.Error())
	case errors.Is(err, ops.ErrSetAside), errors.Is(err, ops.ErrRedriveFailed):
		return nil, huma.Error409Conflict(err.Error())
	}
	return nil, unavailable(err)
}

// unavailable is JetStream not answering the console: the shop may be
// electing a leader, or stopping.
func unavailable(err error) error {
	return huma.Error503ServiceUnavailable("JetStream did not answer; try again", err)
}
