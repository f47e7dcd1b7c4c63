package domain

import (
	"fmt"
	"regexp"
	"time"

	"github.com/shopmesh/shopmesh/events"
)

// Limits on an order.
const (
	MaxLines    = 50
	MaxQuantity = 1000
)

// CatalogEntry is the orders service's replica of a product.
type CatalogEntry struct {
	Name    string
	Price   events.Money
	Deleted bool
}

// Line is a product and quantity as the customer asked.
type Line struct {
	ProductID string
	Quantity  int64
}

// Placement is a customer's request for an order.
type Placement struct {
	OrderID      string
	CustomerID   string
	Lines        []Line
	PaymentToken string
	RequestHash  string
	Now          time.Time
	TTL          time.Duration
}

// FieldError says which part of a placement is wrong.
type FieldError struct {
	Field   string
	Message string
}

// Error names the field and what is wrong with it.
func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

var (
	customerPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$`)
	tokenPattern    = regexp.MustCompile(`^tok_[A-Za-z0-9_]{1,60}$`)
)

// Place decides a new order priced from the catalog replica. existing is
// the order already under the same id (a retried request), if any.
func Place(existing Order, p Placement, catalog map[string]CatalogEntry) (events.OrderPlaced, error) {
	if existing.Exists() {
		if existing.RequestHash != p.RequestHash {
			return events.OrderPlaced{}, ErrIdempotencyMismatch
		}
		return events.OrderPlaced{}, ErrAlreadyPlaced
	}
	if err := validate(p); err != nil {
		return events.OrderPlaced{}, err
	}
	items, total, err := price(p.Lines, catalog)
	if err != nil {
		return events.OrderPlaced{}, err
	}
	return events.OrderPlaced{
		OrderID: p.OrderID, CustomerID: p.CustomerID, Items: items, Total: total,
		PaymentToken: p.PaymentToken, ExpiresAt: p.Now.Add(p.TTL).UTC(), RequestHash: p.RequestHash,
	}, nil
}

// ValidCustomer reports whether id can name a customer.
func ValidCustomer(id string) bool { return customerPattern.MatchString(id) }

func validate(p Placement) error {
	switch {
	case !customerPattern.MatchString(p.CustomerID):
		return &FieldError{"customerId", "must be 1-100 letters, digits, '.', '_', '@' or '-'"}
	case !tokenPattern.MatchString(p.PaymentToken):
		return &FieldError{"paymentToken", "must look like tok_visa"}
	case len(p.Lines) == 0 || len(p.Lines) > MaxLines:
		return &FieldError{"items", fmt.Sprintf("must hold 1 to %d lines", MaxLines)}
	}
	seen := map[string]bool{}
	for i, l := range p.Lines {
		field := fmt.Sprintf("items[%d]", i)
		switch {
		case l.Quantity < 1 || l.Quantity > MaxQuantity:
			return &FieldError{field + ".quantity", fmt.Sprintf("must be 1 to %d", MaxQuantity)}
		case seen[l.ProductID]:
			return &FieldError{field + ".productId", "product appears on two lines; use one line with the total quantity"}
		}
		seen[l.ProductID] = true
	}
	return nil
}

func price(lines []Line, catalog map[string]CatalogEntry) ([]events.OrderItem, events.Money, error) {
	items := make([]events.OrderItem, 0, len(lines))
	var total events.Money
	for i, l := range lines {
		entry, ok := catalog[l.ProductID]
		field := fmt.Sprintf("items[%d].productId", i)
		if !ok || entry.Deleted {
			return nil, total, &FieldError{field, "no such product: " + l.ProductID}
		}
		if total.Currency != "" && entry.Price.Currency != total.Currency {
			return nil, total, &FieldError{field, "all products of an order must share one currency"}
		}
		total.Currency = entry.Price.Currency
		total.Amount += entry.Price.Amount * l.Quantity
		items = append(items, events.OrderItem{ProductID: l.ProductID, Name: entry.Name, Quantity: l.Quantity, UnitPrice: entry.Price})
	}
	return items, total, nil
}
