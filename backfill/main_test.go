package backfill_test

import (
	"os"
	"testing"

	"github.com/recontact/recontact/store/storetest"
)

// TestMain drops the migrated template databases the tests cloned from, so
// runs leave nothing behind on the shared PostgreSQL server.
func TestMain(m *testing.M) {
	code := m.Run()
	storetest.DropTemplates()
	os.Exit(code)
}
