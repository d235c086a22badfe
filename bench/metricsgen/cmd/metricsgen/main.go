// Command metricsgen builds the period-query benchmark's history and prints
// its shape; with -db it also loads it into a store and leaves it there, for
// EXPLAIN and for trying an index by hand.
//
//	go run ./bench/metricsgen/cmd/metricsgen -scale 0.1
//	go run ./bench/metricsgen/cmd/metricsgen -db postgres://postgres@127.0.0.1:5432/bench?sslmode=disable
//	go run ./bench/metricsgen/cmd/metricsgen -db sqlite:/tmp/bench.db
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/recontact/recontact/bench/metricsgen"
	"github.com/recontact/recontact/store"
)

func main() {
	scale := flag.Float64("scale", 1, "size relative to the benchmark's (1M contacts, 5M bookings)")
	db := flag.String("db", "", "DATABASE_URL of an empty store to load (postgres://… or sqlite:PATH); none: only print the shape")
	flag.Parse()
	if err := run(context.Background(), *scale, *db); err != nil {
		fmt.Fprintln(os.Stderr, "metricsgen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, scale float64, db string) error {
	cfg := metricsgen.Default().Scaled(scale)
	start := time.Now()
	f, err := metricsgen.Build(cfg)
	if err != nil {
		return err
	}
	fmt.Printf("generated in %.1fs: %s\ntypical contact: %s:%s\n", time.Since(start).Seconds(), f.Stats, f.Typical.Source, f.Typical.TicketID)
	if db == "" {
		return nil
	}
	s, err := store.Open(ctx, db, store.Options{Settings: cfg.Settings})
	if err != nil {
		return err
	}
	defer s.Close()
	start = time.Now()
	if err := s.LoadFixture(ctx, f.Contacts, f.Bookings); err != nil {
		return err
	}
	fmt.Printf("loaded into %s in %.1fs\n", s.Dialect(), time.Since(start).Seconds())
	return nil
}
