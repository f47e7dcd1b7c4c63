package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopmesh/shopmesh/mesh/meshtest"
)

// rawRequest sends text on a new connection and returns the status line
// of the answer.
func rawRequest(t *testing.T, addr, text string, closeWrite bool) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, text); err != nil {
		t.Fatal(err)
	}
	if closeWrite {
		_ = c.(*net.TCPConn).CloseWrite()
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("no answer to %q: %v", text, err)
	}
	return strings.TrimSpace(line)
}

func TestBodiesThatEndEarlyOrAreNotJSONChangeNothing(t *testing.T) {
	t.Parallel()
	s := startTestShop(t, testConfig(t))
	defer s.close()
	addr := strings.TrimPrefix(s.httpURL, "http://")
	auth := "Authorization: Bearer " + meshtest.AdminToken + "\r\n"
	cases := []struct {
		name, request string
		want          string
	}{
		{"truncated", "POST /products HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"sku\":", "400"},
		{"not JSON", "POST /products HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}", "415"},
		{"no type", "POST /products HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 2\r\n\r\n{}", "415"},
	}
	for _, c := range cases {
		if got := rawRequest(t, addr, c.request, true); !strings.Contains(got, c.want) {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	var page struct{ Items []any }
	meshtest.NewClient(t, s.httpURL).Do(http.MethodGet, "/products", nil, nil).Expect(http.StatusOK).Decode(&page)
	if len(page.Items) != 0 {
		t.Fatalf("refused bodies created %d products", len(page.Items))
	}
}

// A flood of idle connections gets 503 past the cap, and once it is gone
// the shop serves and writes as before.
func TestConnectionFloodIsCappedAndPassesOff(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.MaxConnections = 20
	m := openMall(t, cfg)
	addr := strings.TrimPrefix(m.shop.httpURL, "http://")
	var held []net.Conn
	for range cfg.MaxConnections {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	refused := 0
	for range 30 {
		if got := rawRequest(t, addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", false); strings.Contains(got, "503") {
			refused++
		}
	}
	if refused != 30 {
		t.Fatalf("%d of 30 connections over the cap refused, want all", refused)
	}
	for _, c := range held {
		_ = c.Close()
	}
	meshtest.Eventually(t, 10*time.Second, func() error {
		if got := rawRequest(t, addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", false); !strings.Contains(got, "200") {
			return errorf("still refused: %s", got)
		}
		return nil
	})
	mug := m.product("MUG", 100, 5)
	if o := m.awaitTerminal(m.place("after-flood", "tok_visa", line{mug, 1})); o.Status != "confirmed" {
		t.Fatalf("order after the flood %+v", o)
	}
}
