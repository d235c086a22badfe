package handlers

import (
	"encoding/csv"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/metrics"
	"github.com/recontact/recontact/store"
)

// metricsFormat reads ?format=: "" or json (the default) or csv.
func metricsFormat(c *gin.Context) (string, error) {
	switch f := c.Query("format"); f {
	case "", "json":
		return "json", nil
	case "csv":
		return "csv", nil
	default:
		return "", recontact.Errorf(recontact.EInvalid, "format must be json or csv, got "+quote(f))
	}
}

// totalsColumns are the JSON names of metrics.Totals' fields in order, so the
// CSV header follows the JSON without a second list to keep in step.
var totalsColumns = func() []string {
	t := reflect.TypeOf(metrics.Totals{})
	cols := make([]string, t.NumField())
	for i := range cols {
		cols[i], _, _ = strings.Cut(t.Field(i).Tag.Get("json"), ",")
	}
	return cols
}()

// writeMetricsCSV writes one row per totals: the period's first (key
// "total"), then the groups. Null is an empty cell: a rate or band over
// nothing, and the key of the group of contacts without a partner.
func (h *Handler) writeMetricsCSV(c *gin.Context, q store.PeriodQuery, totals metrics.Totals, groups []metrics.Group) {
	name := "recontact-metrics-" + q.From.UTC().Format("20060102") + "-" + q.To.UTC().Format("20060102")
	if q.GroupBy != "" {
		name += "-by-" + q.GroupBy
	}
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	c.Status(http.StatusOK)
	w := csv.NewWriter(c.Writer)
	_ = w.Write(append([]string{"key"}, totalsColumns...))
	_ = w.Write(csvRow("total", totals))
	for _, g := range groups {
		key := ""
		if g.Key != nil {
			key = *g.Key
		}
		_ = w.Write(csvRow(key, g.Totals))
	}
	w.Flush()
	if err := w.Error(); err != nil {
		// Headers are gone: all that is left is to note it.
		h.log.Warn("write metrics csv", "err", err)
	}
}

func csvRow(key string, t metrics.Totals) []string {
	v := reflect.ValueOf(t)
	row := make([]string, 0, v.NumField()+1)
	row = append(row, key)
	for i := range v.NumField() {
		row = append(row, csvCell(v.Field(i)))
	}
	return row
}

// csvCell formats an int, a *float64 or a *string; nil is empty.
func csvCell(f reflect.Value) string {
	switch f.Kind() {
	case reflect.Int:
		return strconv.FormatInt(f.Int(), 10)
	case reflect.Pointer:
		if f.IsNil() {
			return ""
		}
		return csvCell(f.Elem())
	case reflect.Float64:
		return strconv.FormatFloat(f.Float(), 'f', -1, 64)
	case reflect.String:
		return f.String()
	}
	return ""
}
