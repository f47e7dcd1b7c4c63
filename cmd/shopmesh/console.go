package main

import (
	"context"

	"github.com/shopmesh/shopmesh/console"
)

// servesConsole says whether this process serves the console: only the
// one that runs the whole shop on its embedded server, which holds the
// operator's password already (it provisions with it). The console reads
// every stream and every reaction's consumer, and redrives dead letters,
// which no service's user may do (ADR 18). Other processes keep the
// landing page.
func (s *shop) servesConsole() bool {
	return s.server != nil && len(s.cfg.Services) == 0
}

// startConsole serves the console at / with a connection of its own, as
// the operator.
func (s *shop) startConsole(context.Context) error {
	if !s.servesConsole() {
		return nil
	}
	js, err := s.operator("shopmesh-console")
	if err != nil {
		return err
	}
	traceURL := ""
	if s.cfg.OTLPEndpoint != "" {
		traceURL = s.cfg.TraceURL // a link to a trace that was never exported would lead nowhere
	}
	console.Register(s.node.HTTP, console.Options{
		JS: js, Plans: allPlans(s.cfg), Tokens: s.node.HTTP.CustomerTokens(), Demo: s.cfg.Demo,
		SlowPayments: s.cfg.SlowGateway > 0, TraceURL: traceURL, Log: s.log.With().Str("service", "console").Logger(),
	})
	return nil
}
