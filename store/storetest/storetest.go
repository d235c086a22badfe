// Package storetest gives tests a fresh, migrated store on each database:
// SQLite in a temporary folder, and PostgreSQL in a database of its own
// cloned from a migrated template and dropped afterwards. No mocks.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	_ "github.com/lib/pq"

	"github.com/recontact/recontact/store"
)

// AdminURL is the PostgreSQL server tests use, from TEST_DATABASE_URL.
func AdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// SQLiteURL is a fresh SQLite DATABASE_URL in a temporary folder.
func SQLiteURL(t testing.TB) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "recontact.db")
}

// SQLite opens a fresh SQLite store.
func SQLite(t testing.TB, opt store.Options) *store.Store {
	t.Helper()
	return open(t, SQLiteURL(t), opt)
}

// Postgres opens a fresh PostgreSQL store.
func Postgres(t testing.TB, opt store.Options) *store.Store {
	t.Helper()
	return open(t, PostgresURL(t), opt)
}

// Each runs fn once per database, as subtests named sqlite and postgres.
func Each(t *testing.T, opt store.Options, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t, opt)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t, opt)) })
}

// EachURL runs fn with a fresh DATABASE_URL per database (for tests that
// start the whole service).
func EachURL(t *testing.T, fn func(t *testing.T, url string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLiteURL(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, PostgresURL(t)) })
}

func open(t testing.TB, url string, opt store.Options) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), url, opt)
	if err != nil {
		t.Fatalf("open store %s: %v", redact(url), err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// PostgresURL creates an empty, migrated database and returns its URL; the
// database is dropped when the test ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin, err := sql.Open("postgres", AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.Ping(); err != nil {
		t.Fatalf("PostgreSQL at %s is not reachable (start it, or set TEST_DATABASE_URL): %v", redact(AdminURL()), err)
	}
	templateOnce.Do(func() { templateName, templateErr = migratedTemplate(admin) })
	if templateErr != nil {
		t.Fatalf("prepare template database: %v", templateErr)
	}
	name := "recontact_t_" + randomHex(6)
	if _, err := admin.Exec(fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, templateName)); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("postgres", AdminURL())
		if err != nil {
			return
		}
		defer admin.Close()
		_, _ = admin.Exec(fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name))
	})
	return withDatabase(AdminURL(), name)
}

// migratedTemplate migrates a template once per test process; copying it is
// much faster than migrating every test's database.
func migratedTemplate(admin *sql.DB) (string, error) {
	name := "recontact_tmpl_" + randomHex(6)
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		return "", err
	}
	s, err := store.Open(context.Background(), withDatabase(AdminURL(), name), store.Options{})
	if err != nil {
		return "", err
	}
	s.Close()
	// A template must have no connections when it is copied.
	_, err = admin.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, name)
	dropAtExit(name)
	return name, err
}

var (
	exitMu    sync.Mutex
	exitNames []string
)

// dropAtExit remembers a template for DropTemplates (called from TestMain).
func dropAtExit(name string) {
	exitMu.Lock()
	defer exitMu.Unlock()
	exitNames = append(exitNames, name)
}

// DropTemplates removes the templates this process made; call it from
// TestMain after m.Run so the server does not fill with them.
func DropTemplates() {
	exitMu.Lock()
	defer exitMu.Unlock()
	if len(exitNames) == 0 {
		return
	}
	admin, err := sql.Open("postgres", AdminURL())
	if err != nil {
		return
	}
	defer admin.Close()
	for _, n := range exitNames {
		_, _ = admin.Exec(fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, n))
	}
	exitNames = nil
}

func withDatabase(raw, name string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Path = "/" + name
	return u.String()
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
