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
	if resp, err := http.Get("http://" + addr.String() + "/debug/pprof/cmdline"); err != nil || resp.StatusCode == http.StatusOK {
		t.Fatalf("the command line, which may hold the admin token, is served: %v", err)
	}
	cancel()
	client := http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for { // the listener closes once ctx has ended
		if _, err := client.Get("http://" + addr.String() + "/debug/pprof/"); err != nil {
			break
		}
	}
}

func TestProfilesAreServedOnThisMachineOnly(t *testing.T) {
	t.Parallel()
	if _, err := serveProfiles(context.Background(), ":0", zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "this machine only") {
		t.Fatalf("profiles on every interface: %v; want refused", err)
	}
}
