package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/shopmesh/shopmesh/events"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/meshtest"
)

// history is what the shop answers about its orders: each order, its
// payments and its timeline, and the stock.
type history struct {
	orders    map[string]order
	payments  map[string][]payment
	timelines map[string][]string
	stock     stock
}

func (m *mall) history(ids []string, product string) history {
	m.t.Helper()
	h := history{orders: map[string]order{}, payments: map[string][]payment{}, timelines: map[string][]string{}, stock: m.stock(product)}
	for _, id := range ids {
		h.orders[id] = m.order(id)
		h.payments[id] = m.payments(id)
		var timeline struct {
			Events []struct{ Subject, Type, ID string }
		}
		m.http.Do(http.MethodGet, "/orders/"+id+"/timeline", nil, nil).Expect(http.StatusOK).Decode(&timeline)
		for _, e := range timeline.Events {
			h.timelines[id] = append(h.timelines[id], e.Subject+" "+e.Type+" "+e.ID)
		}
	}
	return h
}

// A shop whose archiver has moved every event of its ended orders out of
// the streams keeps no subject of them in the server, and still answers
// for them: each order, its payments and its timeline, as before. A new
// order of the same product goes through the saga (its stock's events are
// all archived), and a shop that lost its local state rebuilds it from the
// archives and the streams to the same answers.
func TestAShopServesItsArchivedHistory(t *testing.T) {
	t.Parallel()
	cfg := sagaConfig(t)
	m := openMall(t, cfg, archivingEvery(100*time.Millisecond))
	mug := m.product("ARCHIVE-MUG", 1500, 20)
	var ids []string
	for i, token := range []string{"tok_visa", "tok_chargeDeclined", "tok_visa", "tok_visa"} {
		ids = append(ids, m.place(fmt.Sprint("archived-", i), token, line{mug, 2}))
		m.awaitTerminal(ids[i])
	}
	m.http.Do(http.MethodPost, "/orders/"+ids[3]+"/cancel", nil, nil).Expect(http.StatusOK) // refunded
	m.await(ids[3], is("cancelled"))
	m.awaitIdle()
	before := m.history(ids, mug)
	if before.stock.OnHand != 14 || len(before.timelines[ids[0]]) < 8 {
		t.Fatalf("before the archive: stock %+v, timeline %v", before.stock, before.timelines[ids[0]])
	}

	for _, stream := range []string{events.OrdersStream, events.InventoryStream, events.PaymentsStream} {
		meshtest.Eventually(t, 20*time.Second, func() error {
			s, err := m.js.Stream(meshtest.Context(t), stream)
			if err != nil {
				return err
			}
			if st := s.CachedInfo().State; st.Msgs != 0 || st.NumSubjects != 0 {
				return fmt.Errorf("%s still holds %d events on %d subjects", stream, st.Msgs, st.NumSubjects)
			}
			return nil
		})
	}
	if after := m.history(ids, mug); !reflect.DeepEqual(after, before) {
		t.Fatalf("archived history answers\n%+v\nwas\n%+v", after, before)
	}

	next := m.awaitTerminal(m.place("after-archive", "tok_visa", line{mug, 1}))
	if next.Status != "confirmed" {
		t.Fatalf("an order of a product whose events are archived ended %s", next.Status)
	}
	ids = append(ids, next.ID)
	m.awaitIdle()
	live := m.history(ids, mug)
	if live.stock.OnHand != 13 || live.stock.Reserved != 0 {
		t.Fatalf("stock after the new order: %+v", live.stock)
	}

	m.close()
	if err := os.RemoveAll(filepath.Join(cfg.Data, "state")); err != nil {
		t.Fatal(err)
	}
	m.restart(cfg)
	m.awaitReady()
	rebuilt := m.history(ids, mug)
	if !reflect.DeepEqual(rebuilt, live) {
		t.Fatalf("rebuilt from the archives\n%+v\nthe live shop said\n%+v", rebuilt, live)
	}
	for _, stream := range []string{events.OrdersStream, events.InventoryStream, events.PaymentsStream} {
		a, err := m.js.Stream(meshtest.Context(t), mesh.ArchiveStream(stream))
		if err != nil {
			t.Fatal(err)
		}
		if st := a.CachedInfo().State; st.NumSubjects != 1 || st.Msgs == 0 {
			t.Errorf("archive of %s: %d events on %d subjects", stream, st.Msgs, st.NumSubjects)
		}
	}
}
