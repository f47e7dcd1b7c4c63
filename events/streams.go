package events

// StreamDef describes a service's event stream. Any service may provision
// the streams it reads, so start order never matters; the definitions live
// here so that every provisioner agrees.
type StreamDef struct {
	Name     string
	Subjects []string
	// Schedules allows scheduled messages (timers) in the stream.
	Schedules bool
	// Archive gives the stream an archive, where its events go once they
	// are history (ADR 25).
	Archive bool
}

// The streams of the mesh, one per service.
var (
	ProductsStreamSpec  = StreamDef{Name: ProductsStream, Subjects: []string{"products.>"}}
	InventoryStreamSpec = StreamDef{Name: InventoryStream, Subjects: []string{"inventory.>"}, Archive: true}
	OrdersStreamSpec    = StreamDef{Name: OrdersStream, Subjects: []string{"orders.>"}, Schedules: true, Archive: true}
	PaymentsStreamSpec  = StreamDef{Name: PaymentsStream, Subjects: []string{"payments.>"}, Archive: true}
)

// Streams are every service's stream. What follows the whole mesh reads
// them all: the order timeline, which keeps each event that names an
// order, whichever service published it.
var Streams = []StreamDef{ProductsStreamSpec, InventoryStreamSpec, OrdersStreamSpec, PaymentsStreamSpec}
