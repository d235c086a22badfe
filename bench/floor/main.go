// Command floor is the ingest benchmark's floor: an HTTP server that reads
// each POST's body and answers 200 with the body recontact answers an
// accepted delivery with, and does nothing else: no signature, no parsing, no
// store. Driven by bench/ingest beside the service, it shows what the HTTP
// exchange alone costs on the machine (server and load generator sharing its
// CPUs): the part of every delivery's budget no store can win back. It uses
// net/http without gin (gin stays in the handlers package), so it is a lower
// bound: gin's routing and context add a few microseconds a request.
//
//	go run ./bench/floor -addr 127.0.0.1:18082
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
)

var accepted = []byte(`{"status":"accepted"}`)

func main() {
	addr := flag.String("addr", "127.0.0.1:18082", "address to listen on")
	flag.Parse()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhooks/zendesk", func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			http.Error(w, `{"error":"reading the body failed"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(accepted)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {})
	if err := http.ListenAndServe(*addr, mux); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}
