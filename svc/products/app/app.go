// Package app holds the catalog's use cases: one command or query type per
// use case, each with its handler. Application is the service's mediator.
package app

import (
	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/observe"
)

// Application is every use case of the catalog, resolved at compile time.
type Application struct {
	Commands Commands
	Queries  Queries
}

// Commands change the catalog.
type Commands struct {
	Create mesh.CommandHandler[CreateProduct]
	Update mesh.CommandHandler[UpdateProduct]
	Delete mesh.CommandHandler[DeleteProduct]
}

// Queries read the catalog.
type Queries struct {
	Get  mesh.QueryHandler[GetProduct, Product]
	List mesh.QueryHandler[ListProducts, ProductPage]
}

// New builds the application with logging and metrics around every handler.
// Decisions read state; queries read the read model.
func New(state State, reads ReadModel, w Writer, o observe.Observer) Application {
	h := handlers{state: state, reads: reads, writer: w}
	return Application{
		Commands: Commands{
			Create: mesh.Observed("products.create", o, mesh.CommandFunc[CreateProduct](h.create)),
			Update: mesh.Observed("products.update", o, mesh.CommandFunc[UpdateProduct](h.update)),
			Delete: mesh.Observed("products.delete", o, mesh.CommandFunc[DeleteProduct](h.delete)),
		},
		Queries: Queries{
			Get:  mesh.ObservedQuery("products.get", o, mesh.QueryFunc[GetProduct, Product](h.get)),
			List: mesh.ObservedQuery("products.list", o, mesh.QueryFunc[ListProducts, ProductPage](h.list)),
		},
	}
}

type handlers struct {
	state  State
	reads  ReadModel
	writer Writer
}

// product reads, for a decision, a product and the owner of a sku.
func (h handlers) product(id, sku string) func() (Snapshot, error) {
	return func() (Snapshot, error) { return h.state.ForWrite(id, sku) }
}

// single turns a rule that decides one event into a decision.
func single[E events.Event](e E, err error) ([]E, error) {
	if err != nil {
		return nil, err
	}
	return []E{e}, nil
}
