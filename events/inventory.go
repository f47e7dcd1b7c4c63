package events

// Streams and subjects of the inventory service.
const (
	InventoryStream   = "INVENTORY"
	InventoryService  = "inventory"
	stockEntity       = "stock"
	reservationEntity = "reservation"
)

// StockEntity is one product's stock.
func StockEntity(productID string) string { return Entity(InventoryService, stockEntity, productID) }

// ReservationEntity is one order's reservation.
func ReservationEntity(orderID string) string {
	return Entity(InventoryService, reservationEntity, orderID)
}

// StockFilter matches every event of one product's stock.
func StockFilter(productID string) string {
	return EntityFilter(InventoryService, stockEntity, productID)
}

// ReservationFilter matches every event of one order's reservation.
func ReservationFilter(orderID string) string {
	return EntityFilter(InventoryService, reservationEntity, orderID)
}

// StockAdjusted records a change of the count on hand: a restock, a
// write-off or a count set outright.
type StockAdjusted struct {
	ProductID string `json:"productId"`
	Delta     int64  `json:"delta"`
	OnHand    int64  `json:"onHand"`
	Reason    string `json:"reason"`
}

// StockReserved records units of a product set aside for an order.
type StockReserved struct {
	ProductID string `json:"productId"`
	OrderID   string `json:"orderId"`
	Quantity  int64  `json:"quantity"`
}

// StockReleased records reserved units returned to the available pool.
type StockReleased StockReserved

// StockCommitted records reserved units that left the warehouse.
type StockCommitted StockReserved

// Line is a product and a quantity.
type Line struct {
	ProductID string `json:"productId"`
	Quantity  int64  `json:"quantity"`
}

// Shortage names a product an order wanted more of than was available.
type Shortage struct {
	ProductID string `json:"productId"`
	Requested int64  `json:"requested"`
	Available int64  `json:"available"`
}

// ReservationAccepted records that every line of an order is reserved.
type ReservationAccepted struct {
	OrderID string `json:"orderId"`
	Lines   []Line `json:"lines"`
}

// ReservationRejected records that an order could not be reserved; nothing
// was held.
type ReservationRejected struct {
	OrderID   string     `json:"orderId"`
	Reason    string     `json:"reason"`
	Shortages []Shortage `json:"shortages"`
}

// ReservationReleased records that an order's reserved stock went back.
type ReservationReleased struct {
	OrderID string `json:"orderId"`
	Reason  string `json:"reason"`
	Lines   []Line `json:"lines"`
}

// ReservationCommitted records that an order's reserved stock was shipped.
type ReservationCommitted struct {
	OrderID string `json:"orderId"`
	Lines   []Line `json:"lines"`
}

// The subject of each event, its entity's id in the third token.
func (e StockAdjusted) EventSubject() string  { return stockSubject(e.ProductID, "adjusted") }
func (e StockReserved) EventSubject() string  { return stockSubject(e.ProductID, "reserved") }
func (e StockReleased) EventSubject() string  { return stockSubject(e.ProductID, "released") }
func (e StockCommitted) EventSubject() string { return stockSubject(e.ProductID, "committed") }

// The versioned CloudEvents type of each event.
func (StockAdjusted) EventType() string  { return typeName(InventoryService, stockEntity, "adjusted") }
func (StockReserved) EventType() string  { return typeName(InventoryService, stockEntity, "reserved") }
func (StockReleased) EventType() string  { return typeName(InventoryService, stockEntity, "released") }
func (StockCommitted) EventType() string { return typeName(InventoryService, stockEntity, "committed") }

// The subject of each event, its entity's id in the third token.
func (e ReservationAccepted) EventSubject() string { return reservationSubject(e.OrderID, "accepted") }
func (e ReservationRejected) EventSubject() string { return reservationSubject(e.OrderID, "rejected") }
func (e ReservationReleased) EventSubject() string { return reservationSubject(e.OrderID, "released") }
func (e ReservationCommitted) EventSubject() string {
	return reservationSubject(e.OrderID, "committed")
}

// The versioned CloudEvents type of each event.
func (ReservationAccepted) EventType() string {
	return typeName(InventoryService, reservationEntity, "accepted")
}
func (ReservationRejected) EventType() string {
	return typeName(InventoryService, reservationEntity, "rejected")
}
func (ReservationReleased) EventType() string {
	return typeName(InventoryService, reservationEntity, "released")
}
func (ReservationCommitted) EventType() string {
	return typeName(InventoryService, reservationEntity, "committed")
}

func stockSubject(id, event string) string { return Subject(InventoryService, stockEntity, id, event) }

func reservationSubject(id, event string) string {
	return Subject(InventoryService, reservationEntity, id, event)
}
