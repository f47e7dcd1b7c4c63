package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"

	"github.com/rs/zerolog"
)

// serveProfiles serves Go's runtime profiles on addr until ctx ends: what
// docs/performance.md measures memory and CPU by owner with (go tool pprof
// http://ADDR/debug/pprof/heap). It has a listener and a mux of its own,
// never the shop's, and only on this machine: the profiles, which need no
// token, name the code and its data. The command line, which may hold the
// admin token, is not served.
func serveProfiles(ctx context.Context, addr string, log zerolog.Logger) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--pprof-addr: %w", err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		_ = ln.Close()
		return nil, fmt.Errorf("--pprof-addr %s: profiles are served on this machine only (127.0.0.1 or [::1])", addr)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux}
	context.AfterFunc(ctx, func() { _ = srv.Close() })
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("profiles no longer served")
		}
	}()
	log.Info().Str("addr", ln.Addr().String()).Msg("serving Go's runtime profiles at /debug/pprof/")
	return ln.Addr(), nil
}
