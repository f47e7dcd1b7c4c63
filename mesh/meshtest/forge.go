package meshtest

import (
	"bufio"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopmesh/shopmesh/mesh"
	"github.com/shopmesh/shopmesh/mesh/observe"
)

// Forge stores body on subject as an event of eventType, in the envelope
// service writes (the CloudEvents headers, a message id), but with a body
// no service would write: what an operator, or anyone with a service's
// rights on the stream, can publish (`nats pub`). A test attacks a
// service with it from outside.
func Forge(t testing.TB, js jetstream.JetStream, service, subject, eventType, body string) {
	t.Helper()
	id := "forged-" + strconv.FormatInt(causes.Add(1), 10)
	m := nats.NewMsg(subject)
	m.Data = []byte(body)
	m.Header.Set(mesh.HeaderSpecVersion, "1.0")
	m.Header.Set(mesh.HeaderID, id)
	m.Header.Set(nats.MsgIdHdr, id)
	m.Header.Set(mesh.HeaderSource, "shopmesh/"+service)
	m.Header.Set(mesh.HeaderType, eventType)
	m.Header.Set(mesh.HeaderTime, time.Now().UTC().Format(time.RFC3339Nano))
	m.Header.Set(mesh.HeaderSubject, subject)
	m.Header.Set(mesh.HeaderContentType, "application/json")
	m.Header.Set(mesh.HeaderCorrelationID, id)
	m.Header.Set(mesh.HeaderCausationID, id)
	if _, err := js.PublishMsg(Context(t), m); err != nil {
		t.Fatal(err)
	}
}

// Metric is the value of one series of m, as /metrics shows it: its name
// and labels as written there (`shopmesh_events_set_aside_total{service="orders"}`),
// 0 when it has none yet.
func Metric(t testing.TB, m *observe.Metrics, series string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	lines := bufio.NewScanner(rec.Body)
	for lines.Scan() {
		if value, ok := strings.CutPrefix(lines.Text(), series+" "); ok {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatalf("%s: %v", series, err)
			}
			return v
		}
	}
	return 0
}
