package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func TestProfilesAreServedOnTheirOwnAddressUntilTheEnd(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	addr, err := serveProfiles(ctx, "127.0.0.1:0", zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr.String() + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "heap profile") {
		t.Fatalf("heap profile: %d %.100s", resp.StatusCode, body)
	}
	cancel()
	client := http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for { // the listener closes once ctx has ended
		if _, err := client.Get("http://" + addr.String() + "/debug/pprof/"); err != nil {
			break
		}
	}
}
