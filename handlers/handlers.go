// Package handlers is recontact's HTTP surface (Gin): webhooks in, the admin
// API out. Handlers read, call a connector or the store, map the error and
// respond; the logic lives in connectors, metrics and store.
package handlers

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/store"
)

// MaxBody is the largest webhook body accepted (413 past it).
const MaxBody = 1 << 20

// Connector verifies and parses one source's webhooks. Verify sees the raw
// bytes before anything is parsed.
type Connector struct {
	Verify func(h http.Header, body []byte) error
	Parse  func(h http.Header, body []byte, received time.Time) (*recontact.Delivery, error)
}

// Config wires a Handler.
type Config struct {
	Store      *store.Store
	Logger     *slog.Logger
	AdminToken string
	// Connectors by source; a missing one answers 503 "not configured" so the
	// sender keeps retrying until an admin sets the secret.
	Connectors map[recontact.Source]Connector
	Observer   Observer
	// Prometheus serves GET /metrics; MetricsToken, when set, guards it.
	Prometheus   http.Handler
	MetricsToken string
	Now          func() time.Time
	// ZendeskSubdomain and FreshdeskDomain, when set, make the dashboard's
	// ticket ids links into the helpdesk.
	ZendeskSubdomain, FreshdeskDomain string
}

// Observer receives what operators count (Prometheus lives outside handlers).
type Observer interface {
	Delivery(src recontact.Source, outcome string, seconds float64)
}

type nopObserver struct{}

func (nopObserver) Delivery(recontact.Source, string, float64) {}

// Handler serves recontact's HTTP API.
type Handler struct {
	Config
	log       *slog.Logger
	adminHash [32]byte
	engine    *gin.Engine
	sess      sessionState // sign-outs (session.go)
}

// New builds the routes.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	h := &Handler{Config: cfg, log: cfg.Logger, adminHash: sha256.Sum256([]byte(cfg.AdminToken))}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.CustomRecovery(func(c *gin.Context, rec any) {
		h.fail(c, recontact.Wrap(recontact.EInternal, "internal error", errors.New("panic")))
		h.log.Error("panic", slog.Any("recovered", rec))
	}), h.requestLog)
	r.HandleMethodNotAllowed = true
	r.NoRoute(func(c *gin.Context) {
		h.fail(c, recontact.Errorf(recontact.ENotFound, "no route "+c.Request.Method+" "+c.Request.URL.Path))
	})
	r.NoMethod(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, gin.H{"error": "method " + c.Request.Method + " not allowed here"})
	})

	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", h.ready)
	if cfg.Prometheus != nil {
		r.GET("/metrics", h.prometheus)
	}
	for _, src := range []recontact.Source{recontact.SourceZendesk, recontact.SourceFreshdesk, recontact.SourceBookings} {
		r.POST("/webhooks/"+string(src), h.webhook(src))
	}
	api := r.Group("/api/v1", h.requireAdmin, h.settled)
	api.GET("/tickets/:source/:ticket_id", h.ticket)
	api.GET("/metrics", h.metrics)
	api.GET("/writeback", h.writebackList)
	api.POST("/writeback/:id/retry", h.writebackRetry)
	h.dashboardRoutes(r, api)
	h.engine = r
	return h
}

func (h *Handler) prometheus(c *gin.Context) {
	if h.MetricsToken != "" {
		want := sha256.Sum256([]byte(h.MetricsToken))
		got := sha256.Sum256([]byte(bearer(c.Request)))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			h.fail(c, recontact.Errorf(recontact.EUnauthorized, "missing or wrong metrics token (Authorization: Bearer …)"))
			return
		}
	}
	h.Prometheus.ServeHTTP(c.Writer, c.Request)
}

// ServeHTTP makes Handler an http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.engine.ServeHTTP(w, r) }

// Engine exposes the Gin engine so other route groups can be added.
func (h *Handler) Engine() *gin.Engine { return h.engine }

func (h *Handler) ready(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := h.Store.Ping(ctx); err != nil {
		h.fail(c, recontact.Wrap(recontact.EUnavailable, "store unavailable", err))
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready", "store": string(h.Store.Dialect())})
}

// webhook is every source's endpoint: read at most MaxBody raw bytes, verify
// them, parse, commit, and only then answer 2xx.
func (h *Handler) webhook(src recontact.Source) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		outcome := "accepted"
		defer func() {
			if code, ok := c.Get(ctxErrorCode); ok {
				outcome = "rejected_" + code.(string)
			}
			h.Observer.Delivery(src, outcome, time.Since(start).Seconds())
		}()
		conn, ok := h.Connectors[src]
		if !ok {
			h.fail(c, recontact.Errorf(recontact.EUnavailable, string(src)+" webhooks are not configured on this server"))
			return
		}
		body, err := readBody(c)
		if err != nil {
			h.fail(c, err)
			return
		}
		if err := conn.Verify(c.Request.Header, body); err != nil {
			h.fail(c, err)
			return
		}
		d, err := conn.Parse(c.Request.Header, body, h.Now())
		if err != nil {
			h.fail(c, err)
			return
		}
		dup, err := h.Store.Ingest(c.Request.Context(), d)
		if err != nil {
			h.fail(c, err)
			return
		}
		if dup {
			outcome = "duplicate"
			c.Data(http.StatusOK, jsonContent, duplicateBody)
			return
		}
		c.Data(http.StatusOK, jsonContent, acceptedBody)
	}
}

// The webhook answers, written as bytes: they are the same every time.
const jsonContent = "application/json; charset=utf-8"

var (
	acceptedBody  = []byte(`{"status":"accepted"}`)
	duplicateBody = []byte(`{"status":"duplicate"}`)
)

func readBody(c *gin.Context) ([]byte, error) {
	if c.Request.ContentLength > MaxBody {
		return nil, recontact.Errorf(recontact.ETooLarge, "body larger than 1 MiB")
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, recontact.Errorf(recontact.ETooLarge, "body larger than 1 MiB")
	}
	if err != nil {
		return nil, recontact.Wrap(recontact.EInvalid, "could not read body", err)
	}
	return body, nil
}

// settleFor bounds how long an API read waits for the deliveries this
// instance acknowledged before it to be applied.
const settleFor = time.Second

// settled lets an API read see every webhook this instance answered before
// it: they are applied right behind their 2xx (store.Settle). Past settleFor
// the read goes ahead with what is applied.
func (h *Handler) settled(c *gin.Context) {
	if c.Request.Method == http.MethodGet {
		ctx, cancel := context.WithTimeout(c.Request.Context(), settleFor)
		err := h.Store.Settle(ctx)
		cancel()
		if err != nil && c.Request.Context().Err() == nil {
			h.log.Warn("read before acknowledged deliveries were applied", slog.Any("err", err))
		}
	}
	c.Next()
}

// requireAdmin accepts "Authorization: Bearer <ADMIN_TOKEN>" or a dashboard
// session (session.go; with its CSRF token on changes).
func (h *Handler) requireAdmin(c *gin.Context) {
	if err := h.authorize(c); err != nil {
		h.deny(c, err)
		return
	}
	c.Next()
}

// tokenOK hashes both sides first, so the comparison is constant-time
// whatever the lengths.
func (h *Handler) tokenOK(tok string) bool {
	if tok == "" {
		return false
	}
	got := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(got[:], h.adminHash[:]) == 1
}

func bearer(r *http.Request) string {
	a := r.Header.Get("Authorization")
	if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

// requestLog writes one line per request with a request id; never bodies,
// secrets or e-mails.
func (h *Handler) requestLog(c *gin.Context) {
	start := time.Now()
	id := c.GetHeader("X-Request-Id")
	if id == "" || len(id) > 64 {
		id = newRequestID()
	}
	c.Header("X-Request-Id", id)
	c.Next()
	h.log.LogAttrs(c.Request.Context(), slog.LevelInfo, "request",
		slog.String("request_id", id),
		slog.String("method", c.Request.Method),
		slog.String("path", c.Request.URL.Path),
		slog.Int("status", c.Writer.Status()),
		slog.Duration("duration", time.Since(start)),
	)
}

// newRequestID needs to be unique enough to find a request in the logs, not
// unguessable: math/rand costs no system call per request.
func newRequestID() string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	return hex.EncodeToString(b[:])
}
