// Package app holds the catalog's use cases: one command or query type per
// use case, each with its handler. Application is the service's mediator.
package app

import (
	"context"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/observe"
	"github.com/shopmesh/shopmesh/svc/products/domain"
	"github.com/shopmesh/shopmesh/svc/products/store"
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
	Get  mesh.QueryHandler[GetProduct, domain.Product]
	List mesh.QueryHandler[ListProducts, store.Page]
}

// New builds the application with logging and metrics around every handler.
func New(s *store.Store, w *mesh.Writer, o observe.Observer) Application {
	h := handlers{store: s, writer: w}
	return Application{
		Commands: Commands{
			Create: mesh.Observed("products.create", o, mesh.CommandFunc[CreateProduct](h.create)),
			Update: mesh.Observed("products.update", o, mesh.CommandFunc[UpdateProduct](h.update)),
			Delete: mesh.Observed("products.delete", o, mesh.CommandFunc[DeleteProduct](h.delete)),
		},
		Queries: Queries{
			Get:  mesh.ObservedQuery("products.get", o, mesh.QueryFunc[GetProduct, domain.Product](h.get)),
			List: mesh.ObservedQuery("products.list", o, mesh.QueryFunc[ListProducts, store.Page](h.list)),
		},
	}
}

type handlers struct {
	store  *store.Store
	writer *mesh.Writer
}

// catalogWide guards every catalog write with the position of the whole
// PRODUCTS stream: sku uniqueness spans all products, so any concurrent
// catalog write must make a writer decide again (see docs/adr).
func catalogWide(snap store.Snapshot) *mesh.Expect {
	return &mesh.Expect{Filter: events.ProductSubjects, Seq: snap.Position}
}

func one(e mesh.Event, snap store.Snapshot) []mesh.Outgoing {
	return []mesh.Outgoing{{Event: e, Expect: catalogWide(snap)}}
}

// decideWith runs one write: snapshot, decide, publish, wait.
func (h handlers) decideWith(ctx context.Context, requestID, id, sku string, decide func(store.Snapshot) (mesh.Event, error)) error {
	_, err := h.writer.Write(ctx, mesh.Cause{ID: requestID, CorrelationID: id}, func() ([]mesh.Outgoing, error) {
		snap, err := h.store.ForWrite(id, sku)
		if err != nil {
			return nil, err
		}
		e, err := decide(snap)
		if err != nil {
			return nil, err
		}
		return one(e, snap), nil
	})
	return err
}
