package events

// Streams and subjects of the products service.
const (
	ProductsStream  = "PRODUCTS"
	ProductsService = "products"
	productEntity   = "product"
)

// ProductSubjects matches every product event.
const ProductSubjects = "products.product.>"

// ProductFields are the editable fields of a catalog entry.
type ProductFields struct {
	SKU         string `json:"sku"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Price       Money  `json:"price"`
}

// ProductCreated records a new catalog entry.
type ProductCreated struct {
	ProductID string `json:"productId"`
	ProductFields
}

// ProductUpdated records new values for every editable field.
type ProductUpdated struct {
	ProductID string `json:"productId"`
	ProductFields
}

// ProductDeleted records that a product left the catalog.
type ProductDeleted struct {
	ProductID string `json:"productId"`
}

// The subject of each event, its entity's id in the third token.
func (e ProductCreated) EventSubject() string { return productSubject(e.ProductID, "created") }
func (e ProductUpdated) EventSubject() string { return productSubject(e.ProductID, "updated") }
func (e ProductDeleted) EventSubject() string { return productSubject(e.ProductID, "deleted") }

// The versioned CloudEvents type of each event.
func (ProductCreated) EventType() string { return productType("created") }
func (ProductUpdated) EventType() string { return productType("updated") }
func (ProductDeleted) EventType() string { return productType("deleted") }

func productSubject(id, event string) string {
	return Subject(ProductsService, productEntity, id, event)
}

func productType(event string) string { return typeName(ProductsService, productEntity, event) }
