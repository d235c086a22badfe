// Package store holds every SQL statement of recontact, for SQLite and
// PostgreSQL alike: one exported method per use case, each one transaction.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/metrics"
	"github.com/recontact/recontact/migrations"
)

func init() {
	// sqlx knows "sqlite3" but not "sqlite", the pure-Go driver's name.
	sqlx.BindDriver("sqlite", sqlx.QUESTION)
}

// Dialect names the SQL database behind a Store.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Store is the database. It is safe for concurrent use.
type Store struct {
	db *sqlx.DB
	// lazy runs the applier's and the evaluator's transactions, whose work is
	// redone if a crash loses it (their inbox deletes and deleted marks
	// are lost with it). On SQLite its connections commit without an fsync,
	// which they would otherwise wait for while holding the one write lock;
	// the next acknowledgement's fsync of the write-ahead log covers their
	// frames too. PostgreSQL needs no second pool (those transactions turn
	// synchronous_commit off).
	lazy     *sqlx.DB
	dialect  Dialect
	settings metrics.Settings

	// Now is the clock; tests replace it.
	Now func() time.Time

	group     *groupCommitter // nil: each Ingest commits alone
	applier   *applier        // with group: applies acknowledged deliveries (inbox.go)
	log       *slog.Logger
	writeback map[recontact.Source]bool
	jobs      chan struct{} // see JobsQueued
	stmts     sync.Map      // query → *sqlx.Stmt, see prepared
	writer    sync.Mutex    // SQLite: one transaction at a time (beginTx)

	// judgedHook, when set (tests), runs between an evaluation's reads and
	// its writes.
	judgedHook func()
}

func (s *Store) judged() {
	if s.judgedHook != nil {
		s.judgedHook()
	}
}

// Options tune a Store.
type Options struct {
	Settings metrics.Settings
	// MaxOpenConns caps the pool; 0 picks a default per dialect.
	MaxOpenConns int
	// GroupCommit batches concurrent Ingest calls into one transaction (one
	// fsync for many deliveries) that commits each delivery's key, raw body
	// and normalised form; each caller returns once that is committed, and
	// an applier applies the deliveries to contacts right behind (inbox.go;
	// Settle waits for it).
	GroupCommit bool
	// Logger receives the applier's warnings; nil discards them.
	Logger *slog.Logger
	// Writeback lists the helpdesks whose verdict changes queue write-back jobs.
	Writeback map[recontact.Source]bool
}

// ParseURL splits DATABASE_URL into a dialect and a driver DSN. "" means the
// embedded default, sqlite:recontact.db.
func ParseURL(url string) (Dialect, string, error) {
	switch {
	case url == "":
		return ParseURL("sqlite:recontact.db")
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return Postgres, url, nil
	case strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//")
		if path == "" {
			return "", "", errors.New("sqlite: needs a file path, e.g. sqlite:recontact.db")
		}
		// WAL lets readers run beside the one writer; FULL makes a commit survive
		// power loss, since a 2xx promises the delivery is kept; immediate
		// transactions make a second writer wait (busy_timeout) instead of failing
		// halfway through.
		dsn := "file:" + path + "?_txlock=immediate" +
			"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)" +
			"&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)"
		return SQLite, dsn, nil
	default:
		return "", "", fmt.Errorf("want postgres://… or sqlite:PATH, got %q", redactURL(url))
	}
}

// redactURL hides a password in a connection URL before it is shown anywhere.
func redactURL(u string) string {
	at := strings.LastIndexByte(u, '@')
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return u
	}
	creds := u[scheme+3 : at]
	if i := strings.IndexByte(creds, ':'); i >= 0 {
		return u[:scheme+3] + creds[:i] + ":***" + u[at:]
	}
	return u
}

// Open connects and applies migrations.
func Open(ctx context.Context, url string, opt Options) (*Store, error) {
	dialect, dsn, err := ParseURL(url)
	if err != nil {
		return nil, err
	}
	if dialect == SQLite {
		path := strings.TrimPrefix(strings.SplitN(dsn, "?", 2)[0], "file:")
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("create database folder: %w", err)
			}
		}
	}
	db, err := sqlx.Open(string(dialect), dsn)
	if err != nil {
		return nil, err
	}
	switch {
	case opt.MaxOpenConns > 0:
		db.SetMaxOpenConns(opt.MaxOpenConns)
	case dialect == SQLite:
		db.SetMaxOpenConns(8)
	default:
		db.SetMaxOpenConns(32)
	}
	db.SetMaxIdleConns(db.Stats().MaxOpenConnections)
	db.SetConnMaxIdleTime(5 * time.Minute)
	lazy := db
	if dialect == SQLite {
		if lazy, err = sqlx.Open(string(dialect), strings.Replace(dsn, "synchronous(FULL)", "synchronous(NORMAL)", 1)); err != nil {
			db.Close()
			return nil, err
		}
		lazy.SetMaxOpenConns(2) // the applier and the evaluator
	}
	if opt.Settings == (metrics.Settings{}) {
		opt.Settings = metrics.DefaultSettings()
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{db: db, lazy: lazy, dialect: dialect, settings: opt.Settings, Now: time.Now, writeback: opt.Writeback,
		jobs: make(chan struct{}, 1), log: opt.Logger}
	if err := s.Migrate(ctx); err != nil {
		s.closeDB()
		return nil, err
	}
	if err := s.checkSettings(ctx); err != nil {
		s.closeDB()
		return nil, err
	}
	if opt.GroupCommit {
		s.applier = newApplier(s, opt.Logger)
		s.group = newGroupCommitter(s)
	}
	return s, nil
}

// Migrate applies the embedded migrations for the store's dialect.
func (s *Store) Migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations.FS, string(s.dialect))
	if err != nil {
		return err
	}
	gd := goose.DialectSQLite3
	if s.dialect == Postgres {
		gd = goose.DialectPostgres
	}
	p, err := goose.NewProvider(gd, s.db.DB, sub)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return classify(fmt.Errorf("migrate: %w", err))
	}
	return nil
}

// Dialect reports which database the store uses.
func (s *Store) Dialect() Dialect { return s.dialect }

// Settings reports the metric settings evaluation uses.
func (s *Store) Settings() metrics.Settings { return s.settings }

// DB exposes the handle for tests and benchmarks that compare plain SQL.
func (s *Store) DB() *sqlx.DB { return s.db }

// Close stops the group committer, applies what it acknowledged (for a
// while; the rest waits in the inbox) and closes the pool.
func (s *Store) Close() error {
	if s.group != nil {
		s.group.stop()
		s.applier.stop()
	}
	return s.closeDB()
}

func (s *Store) closeDB() error {
	if s.lazy != s.db {
		s.lazy.Close()
	}
	return s.db.Close()
}

// Ping checks the database answers (readiness).
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return classify(s.db.GetContext(ctx, &one, "SELECT 1"))
}

// inTx commits only if fn returns nil. A webhook is acknowledged only after
// this returns, so all of a delivery's writes go through one call. A deadlock
// or serialization failure rolled the work back, so it is run again.
func (s *Store) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	return s.inTxOn(ctx, s.db, fn)
}

// inLazyTx is inTx for work a crash may lose because it is redone (see lazy).
func (s *Store) inLazyTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	return s.inTxOn(ctx, s.lazy, fn)
}

func (s *Store) inTxOn(ctx context.Context, db *sqlx.DB, fn func(tx *sqlx.Tx) error) error {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if err = s.tryTx(ctx, db, fn); !retryable(err) {
			return err
		}
	}
	return err
}

// beginTx starts a transaction; done rolls it back unless it committed, and
// must be called. SQLite transactions are immediate (each takes the one
// write lock), so its writers queue here on a mutex, which hands the lock
// over at once, rather than in SQLite's busy handler, which sleeps and
// retries (up to 100 ms a time) while the lock may already be free.
func (s *Store) beginTx(ctx context.Context) (tx *sqlx.Tx, done func(), err error) {
	return s.beginOn(ctx, s.db)
}

func (s *Store) beginOn(ctx context.Context, db *sqlx.DB) (tx *sqlx.Tx, done func(), err error) {
	if s.dialect == SQLite {
		s.writer.Lock()
	}
	unlock := func() {
		if s.dialect == SQLite {
			s.writer.Unlock()
		}
	}
	tx, err = db.BeginTxx(ctx, nil)
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return tx, func() { _ = tx.Rollback(); unlock() }, nil
}

func (s *Store) tryTx(ctx context.Context, db *sqlx.DB, fn func(tx *sqlx.Tx) error) error {
	tx, done, err := s.beginOn(ctx, db)
	if err != nil {
		return classify(err)
	}
	defer done()
	if err := fn(tx); err != nil {
		return classify(err)
	}
	return classify(tx.Commit())
}

// retryable reports a PostgreSQL deadlock or serialization failure: the
// database undid the work, and running it again is safe.
func retryable(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// classify turns driver errors into codes: anything that means "the database
// is not there right now" is EUnavailable, so webhooks answer 503 and the
// sender retries.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var re *recontact.Error
	if errors.As(err, &re) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return recontact.Wrap(recontact.EUnavailable, "store unavailable", err)
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return recontact.Wrap(recontact.EUnavailable, "store unavailable", err)
	}
	var pe *pq.Error
	if errors.As(err, &pe) {
		switch pe.Code.Class() {
		case "08", "53", "57", "58", "3D": // connection, resources, operator intervention, system, database gone
			return recontact.Wrap(recontact.EUnavailable, "store unavailable", err)
		case "40": // serialization failure or deadlock: safe to retry
			return recontact.Wrap(recontact.EUnavailable, "store busy", err)
		}
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff { // primary result code
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR,
			sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY:
			return recontact.Wrap(recontact.EUnavailable, "store unavailable", err)
		}
	}
	return err
}

// ms and fromMS convert at the store edge: instants are BIGINT Unix ms.
func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// nullMS stores a zero time as NULL.
func nullMS(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func fromNullMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}

// day is the UTC calendar day of t, as stored.
func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }
