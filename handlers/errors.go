package handlers

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/recontact/recontact"
)

// statusOf is the one place a recontact.Code becomes an HTTP status.
var statusOf = map[recontact.Code]int{
	recontact.EInvalid:      http.StatusBadRequest,
	recontact.EUnauthorized: http.StatusUnauthorized,
	recontact.ENotFound:     http.StatusNotFound,
	recontact.ETooLarge:     http.StatusRequestEntityTooLarge,
	recontact.EConflict:     http.StatusConflict,
	recontact.EUnavailable:  http.StatusServiceUnavailable,
	recontact.EInternal:     http.StatusInternalServerError,
}

// fail answers with the error's status and {"error": message}. A 503 carries
// Retry-After, which the webhook senders honour; 5xx are logged with the cause.
func (h *Handler) fail(c *gin.Context, err error) {
	code := recontact.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status == http.StatusServiceUnavailable {
		c.Header("Retry-After", "30")
	}
	if status >= 500 {
		h.log.ErrorContext(c.Request.Context(), "request failed", slog.String("path", c.FullPath()), slog.Any("err", err))
	}
	c.Set(ctxErrorCode, string(code))
	c.AbortWithStatusJSON(status, gin.H{"error": recontact.ErrorMessage(err)})
}

const ctxErrorCode = "recontact.error_code"
