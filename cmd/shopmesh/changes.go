package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// orderChange is an order as GET /orders/changes sends it.
type orderChange struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Reason string `json:"reason"`
}

// watchOrders follows GET /orders/changes (Server-Sent Events) and sends
// each order event. It returns once the shop follows changes for it, so no
// change after that is missed. The channel closes when ctx ends or the
// shop ends the stream (it drops a client that falls far behind).
func watchOrders(ctx context.Context, client *http.Client, url, token, query string) (<-chan orderChange, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/orders/changes?"+query, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET /orders/changes: %s", resp.Status)
	}
	out := make(chan orderChange, 256)
	watching, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		defer close(out)
		defer resp.Body.Close()
		readEvents(resp, func(event string, data []byte) {
			if event == "watching" {
				close(watching)
			}
			var o orderChange
			if event == "order" && json.Unmarshal(data, &o) == nil {
				select {
				case out <- o:
				case <-ctx.Done():
				}
			}
		})
	}()
	select {
	case <-watching:
		return out, nil
	case <-ended:
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, errors.New("GET /orders/changes: the stream ended before it began")
	}
}

// readEvents calls on for each event of a text/event-stream body: its
// "event:" name and its "data:" lines joined.
func readEvents(resp *http.Response, on func(event string, data []byte)) {
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(make([]byte, 64*1024), 1024*1024)
	event, data := "message", []byte(nil)
	for lines.Scan() {
		line := lines.Text()
		switch {
		case line == "":
			if data != nil {
				on(event, data)
			}
			event, data = "message", nil
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			if data != nil {
				data = append(data, '\n')
			}
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")...)
		}
	}
}
