package metricsgen_test

import (
	"testing"

	"github.com/recontact/recontact/bench/metricsgen"
)

// TestDeterministic: the same config gives the same history, so benchmark
// runs compare like with like.
func TestDeterministic(t *testing.T) {
	cfg := metricsgen.Default().Scaled(0.005)
	a, err := metricsgen.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := metricsgen.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Contacts) != cfg.Contacts || len(a.Bookings) != cfg.Bookings || a.Stats.Customers != cfg.Customers {
		t.Fatalf("got %d contacts, %d bookings, %d customers; want %d, %d, %d",
			len(a.Contacts), len(a.Bookings), a.Stats.Customers, cfg.Contacts, cfg.Bookings, cfg.Customers)
	}
	if a.Stats != b.Stats || a.Typical != b.Typical {
		t.Fatalf("two builds differ:\n%v\n%v", a.Stats, b.Stats)
	}
	for i := range a.Contacts {
		if a.Contacts[i].Contact.TicketID != b.Contacts[i].Contact.TicketID || a.Contacts[i].Prev != b.Contacts[i].Prev {
			t.Fatalf("contact %d differs", i)
		}
	}
	t.Log(a.Stats)
}
