// Package app holds inventory's use cases: stock changes by admins, and the
// reservations it makes in reaction to orders.
package app

import (
	"context"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/observe"
)

// Application is every use case of inventory.
type Application struct {
	Commands Commands
	Queries  Queries
}

// Commands change stock.
type Commands struct {
	SetStock    mesh.CommandHandler[SetStock]
	AdjustStock mesh.CommandHandler[AdjustStock]
	Reserve     mesh.CommandHandler[Reserve]
	Release     mesh.CommandHandler[Release]
	Commit      mesh.CommandHandler[Commit]
}

// Queries read stock.
type Queries struct {
	Get mesh.QueryHandler[GetStock, Stock]
	Low mesh.QueryHandler[LowStock, StockPage]
	// Watch follows every product's stock as it changes.
	Watch mesh.QueryHandler[WatchStock, <-chan Stock]
}

// New builds the application with logging and metrics around every handler.
// Decisions read state; queries read the read model.
func New(state State, reads ReadModel, w Writer, o observe.Observer) Application {
	h := handlers{state: state, reads: reads, writer: w}
	return Application{
		Commands: Commands{
			SetStock:    mesh.Observed("inventory.set", o, mesh.CommandFunc[SetStock](h.set)),
			AdjustStock: mesh.Observed("inventory.adjust", o, mesh.CommandFunc[AdjustStock](h.adjust)),
			Reserve:     mesh.Observed("inventory.reserve", o, mesh.CommandFunc[Reserve](h.reserve)),
			Release:     mesh.Observed("inventory.release", o, mesh.CommandFunc[Release](h.release)),
			Commit:      mesh.Observed("inventory.commit", o, mesh.CommandFunc[Commit](h.commit)),
		},
		Queries: Queries{
			Get:   mesh.ObservedQuery("inventory.get", o, mesh.QueryFunc[GetStock, Stock](h.get)),
			Low:   mesh.ObservedQuery("inventory.low", o, mesh.QueryFunc[LowStock, StockPage](h.low)),
			Watch: mesh.ObservedQuery("inventory.watch", o, mesh.QueryFunc[WatchStock, <-chan Stock](h.watch)),
		},
	}
}

type handlers struct {
	state  State
	reads  ReadModel
	writer Writer
}

// write runs one decision over a fresh snapshot of the order's reservation,
// the stock of the products it names or holds, and of the products given.
func (h handlers) write(ctx context.Context, cause mesh.Cause, orderID string, products []string, decide func(Snapshot) ([]events.Event, error)) error {
	read := func() (Snapshot, error) { return h.state.Read(orderID, products...) }
	return mesh.Decide(ctx, h.writer, cause, read, decide)
}
