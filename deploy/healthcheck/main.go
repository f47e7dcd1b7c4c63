// Command healthcheck is the probe of the FROM scratch images, which have
// no shell, wget or curl: it GETs a URL and exits 0 on a 2xx answer, 1
// otherwise.
//
//	healthcheck http://127.0.0.1:8080/readyz
//
// The URL is the last argument and any before it are ignored, so the same
// healthcheck line in compose.yml serves an official image with busybox
// (`wget -q -O /dev/null URL`) and a local one (`healthcheck -q -O /dev/null URL`).
package main

import (
	"fmt"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: healthcheck URL")
		os.Exit(2)
	}
	if err := probe(os.Args[len(os.Args)-1]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// probe fails on anything but a 2xx answer within the timeout; Docker has
// its own timeout, but a probe that ends by itself reports why.
func probe(url string) error {
	client := http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}
