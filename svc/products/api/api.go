// Package api exposes the catalog over HTTP with Huma: it translates
// requests to app commands and queries, and domain errors to problems.
package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"
	"github.com/shopmesh/shopmesh/mesh/httpapi"
	"github.com/shopmesh/shopmesh/svc/products/app"
)

// Price is an amount in integer minor units and its currency.
type Price struct {
	Amount   int64  `json:"amount" minimum:"0" maximum:"1000000000000" doc:"Price in minor units (cents)." example:"1999"`
	Currency string `json:"currency" pattern:"^[A-Z]{3}$" doc:"ISO 4217 currency code." example:"EUR"`
}

// ProductFields are what a writer sends.
type ProductFields struct {
	SKU         string `json:"sku" minLength:"1" maxLength:"64" pattern:"^[A-Za-z0-9][A-Za-z0-9._-]*$" doc:"Stock keeping unit, unique in the catalog." example:"MUG-001"`
	Name        string `json:"name" minLength:"1" maxLength:"200" example:"Enamel mug"`
	Description string `json:"description,omitempty" maxLength:"4000" example:"A white enamel mug, 350 ml."`
	Price       Price  `json:"price"`
}

// Product is a catalog entry as readers see it.
type Product struct {
	ID string `json:"id" example:"01JQ3Z8M6W5T2V9R4K7XPN0B1C" doc:"Made by the shop (a ULID); productId in orders and inventory."`
	ProductFields
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	Version   int64     `json:"version" doc:"Increases with every change; the ETag."`
}

type productOutput struct {
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Body     Product
}

// IDPath is the product id in an operation's path.
type IDPath struct {
	ID string `path:"id" pattern:"^[0-9A-Za-z_-]{1,64}$" doc:"Product id, from GET /products."`
}

// IfMatchHeader carries optimistic concurrency from HTTP clients.
type IfMatchHeader struct {
	IfMatch string `header:"If-Match" doc:"The ETag last read; the write fails with 412 if the product changed since."`
}

// Problems are examples of the catalog's errors, for its document.
var Problems = []httpapi.Problem{
	{Status: http.StatusNotFound, Detail: "no such product"},
	{Status: http.StatusConflict, Detail: app.ErrSKUTaken.Error()},
	{Status: http.StatusPreconditionFailed, Detail: app.ErrStaleVersion.Error()},
	{Status: http.StatusServiceUnavailable, Detail: "the catalog is busy; try again"},
}

// invalidProduct is a product the catalog refuses (problem), and one that
// does not fit the schema (Huma's validation).
var invalidProduct = httpapi.Problems(
	httpapi.Problem{Status: http.StatusUnprocessableEntity, Detail: "invalid product", Errors: []*huma.ErrorDetail{
		{Location: "body.price.currency", Message: "must be an ISO 4217 currency code such as EUR or USD"}}},
	httpapi.Problem{Status: http.StatusUnprocessableEntity, Detail: "validation failed", Errors: []*huma.ErrorDetail{
		{Location: "body", Message: "expected required property sku to be present", Value: map[string]any{"name": "Enamel mug"}}}},
)

var exampleFields = ProductFields{
	SKU: "MUG-001", Name: "Enamel mug", Description: "A white enamel mug, 350 ml.",
	Price: Price{Amount: 1299, Currency: "EUR"},
}

// Register adds the catalog's operations to api.
func Register(api huma.API, a app.Application, log zerolog.Logger) {
	h := handlers{app: a, log: log}
	tags := []string{"catalog"}
	huma.Register(api, huma.Operation{
		OperationID: "createProduct", Method: http.MethodPost, Path: "/products", Summary: "Add a product",
		Description: "Adds a product to the catalog (admin). Its id is made by the shop and returned, with its " +
			"URL in Location. The sku must be unique in the catalog: change the example's to add a second product. " +
			"A new product has no stock until PUT /inventory/{productId} sets it.",
		DefaultStatus: http.StatusCreated, Security: httpapi.AdminSecurity, Tags: tags,
		RequestBody: httpapi.Example("A mug", exampleFields), Metadata: invalidProduct,
		Errors: []int{http.StatusUnauthorized, http.StatusConflict, http.StatusServiceUnavailable},
	}, h.create)
	huma.Register(api, huma.Operation{
		OperationID: "getProduct", Method: http.MethodGet, Path: "/products/{id}", Summary: "Read a product",
		Description: "One product by id (from GET /products or the Location of POST /products). Its ETag is its " +
			"version, for If-Match on PUT and DELETE.",
		Tags: tags, Errors: []int{http.StatusNotFound},
	}, h.get)
	huma.Register(api, huma.Operation{
		OperationID: "listProducts", Method: http.MethodGet, Path: "/products", Summary: "List and search products",
		Description: "The catalog a page at a time, oldest first, optionally only the products whose sku or name " +
			"contains q. Each item's id is what orders and inventory take as productId.",
		Tags: tags, Errors: []int{http.StatusBadRequest},
	}, h.list)
	huma.Register(api, huma.Operation{
		OperationID: "updateProduct", Method: http.MethodPut, Path: "/products/{id}", Summary: "Replace a product's fields",
		Description: "Replaces every field of a product (admin). With If-Match, only if the product is still at " +
			"that version (412 otherwise). Orders already placed keep the price they were placed at.",
		Security: httpapi.AdminSecurity, Tags: tags, RequestBody: httpapi.Example("A mug, dearer", withPrice(exampleFields, 1499)),
		Metadata: invalidProduct,
		Errors: []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed,
			http.StatusServiceUnavailable},
	}, h.update)
	huma.Register(api, huma.Operation{
		OperationID: "deleteProduct", Method: http.MethodDelete, Path: "/products/{id}", Summary: "Remove a product",
		Description: "Removes a product from the catalog (admin); it can no longer be ordered. With If-Match, " +
			"only if the product is still at that version (412 otherwise).",
		DefaultStatus: http.StatusNoContent, Security: httpapi.AdminSecurity, Tags: tags,
		Errors: []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusPreconditionFailed, http.StatusServiceUnavailable},
	}, h.delete)
}

func withPrice(f ProductFields, amount int64) ProductFields {
	f.Price.Amount = amount
	return f
}

type handlers struct {
	app app.Application
	log zerolog.Logger
}

func newID() string { return ulid.Make().String() }

func (h handlers) create(ctx context.Context, in *struct {
	Body ProductFields
}) (*productOutput, error) {
	id := newID()
	cmd := app.CreateProduct{RequestID: newID(), ID: id, Draft: toDraft(in.Body)}
	if err := h.app.Commands.Create.Handle(ctx, cmd); err != nil {
		return nil, h.problem(ctx, err)
	}
	out, err := h.read(ctx, id)
	if err == nil {
		out.Location = "/products/" + id
	}
	return out, err
}

func (h handlers) get(ctx context.Context, in *IDPath) (*productOutput, error) {
	return h.read(ctx, in.ID)
}

func (h handlers) read(ctx context.Context, id string) (*productOutput, error) {
	p, err := h.app.Queries.Get.Handle(ctx, app.GetProduct{ID: id})
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &productOutput{ETag: etag(p.Version), Body: toProduct(p)}, nil
}

type listInput struct {
	Q      string `query:"q" maxLength:"100" doc:"Finds products whose sku or name contains this text, in any case."`
	Cursor string `query:"cursor" maxLength:"200" doc:"Opaque cursor from the previous page's nextCursor."`
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Products per page."`
}

// ProductPage is one page of the catalog.
type ProductPage struct {
	Items      []Product `json:"items"`
	NextCursor string    `json:"nextCursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
}

type listOutput struct {
	Body ProductPage
}

func (h handlers) list(ctx context.Context, in *listInput) (*listOutput, error) {
	page, err := h.app.Queries.List.Handle(ctx, app.ListProducts{Query: in.Q, Cursor: in.Cursor, Limit: in.Limit})
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &listOutput{}
	out.Body.Items = make([]Product, 0, len(page.Items))
	for _, p := range page.Items {
		out.Body.Items = append(out.Body.Items, toProduct(p))
	}
	out.Body.NextCursor = page.NextCursor
	return out, nil
}

func (h handlers) update(ctx context.Context, in *struct {
	IDPath
	IfMatchHeader
	Body ProductFields
}) (*productOutput, error) {
	cmd := app.UpdateProduct{RequestID: newID(), ID: in.ID, Draft: toDraft(in.Body), IfVersion: parseIfMatch(in.IfMatch)}
	if err := h.app.Commands.Update.Handle(ctx, cmd); err != nil {
		return nil, h.problem(ctx, err)
	}
	return h.read(ctx, in.ID)
}

func (h handlers) delete(ctx context.Context, in *struct {
	IDPath
	IfMatchHeader
}) (*struct{}, error) {
	cmd := app.DeleteProduct{RequestID: newID(), ID: in.ID, IfVersion: parseIfMatch(in.IfMatch)}
	if err := h.app.Commands.Delete.Handle(ctx, cmd); err != nil {
		return nil, h.problem(ctx, err)
	}
	return &struct{}{}, nil
}

func toDraft(f ProductFields) app.Draft {
	return app.Draft{SKU: f.SKU, Name: f.Name, Description: f.Description, Price: toMoney(f.Price)}
}

func toProduct(p app.Product) Product {
	return Product{
		ID: p.ID,
		ProductFields: ProductFields{
			SKU: p.SKU, Name: p.Name, Description: p.Description,
			Price: Price{Amount: p.Price.Amount, Currency: p.Price.Currency},
		},
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, Version: p.Version,
	}
}
