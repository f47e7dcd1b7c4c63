// Command gen writes the JSON Schema of every event into the schemas folder.
// It runs through `go generate ./...`. (The AsyncAPI document is written by
// cmd/shopmesh, which knows the services' plans.)
package main

import (
	"log"
	"os"
	"path/filepath"

	"github.com/shopmesh/shopmesh/schemas"
)

func main() {
	docs, err := schemas.Generate()
	if err != nil {
		log.Fatal(err)
	}
	old, _ := filepath.Glob("shopmesh.*.json")
	for _, f := range old {
		_ = os.Remove(f)
	}
	for name, data := range docs {
		if err := os.WriteFile(name, data, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	log.Printf("wrote %d schemas", len(docs))
}
