package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/store"
)

// Alerts posts queued alert messages (package alerts) to the webhook URL.
// A few quick retries happen inside one attempt (retryablehttp: backoff,
// Retry-After); past those the job queue backs off and, after its maximum
// attempts, dead-letters the message.
type Alerts struct {
	URL string
	// Client is optional (default NewAlertClient); tests pass one with short
	// waits.
	Client *retryablehttp.Client
	// Timeout bounds one attempt, retries included (default 30 s).
	Timeout time.Duration

	once sync.Once
}

// NewAlertClient is the default client: 3 retries, 1-10 s apart, no logging
// (the URL of a Slack webhook is a secret).
func NewAlertClient() *retryablehttp.Client {
	c := retryablehttp.NewClient()
	c.RetryMax = 3
	c.RetryWaitMin = time.Second
	c.RetryWaitMax = 10 * time.Second
	c.Logger = nil
	// Hand back the last answer instead of a generic error, so its status and
	// Retry-After reach the job queue.
	c.ErrorHandler = retryablehttp.PassthroughErrorHandler
	return c
}

// Funcs registers the alert job.
func (a *Alerts) Funcs() map[string]Func {
	return map[string]Func{recontact.JobAlert: a.post}
}

func (a *Alerts) post(ctx context.Context, j *store.QueuedJob) error {
	if a.URL == "" {
		return Drop(errors.New("ALERT_WEBHOOK_URL is not set"))
	}
	// One client for all posts, so its connections are reused.
	a.once.Do(func() {
		if a.Client == nil {
			a.Client = NewAlertClient()
		}
	})
	timeout := a.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, a.URL, bytes.NewReader([]byte(j.Payload)))
	if err != nil {
		return Drop(a.redact(err))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.Client.Do(req)
	if err != nil {
		return a.redact(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("alert webhook answered %s", resp.Status)
	if d := retryAfter(resp.Header.Get("Retry-After")); d > 0 {
		return retryAt{err: err, after: d}
	}
	return err
}

// redact keeps the webhook URL, a credential, out of errors that are logged
// and stored with the job.
func (a *Alerts) redact(err error) error {
	return errors.New(strings.ReplaceAll(err.Error(), a.URL, "ALERT_WEBHOOK_URL"))
}

// retryAfter reads Retry-After in seconds or as an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}
