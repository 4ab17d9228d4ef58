package master

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"gorm.io/gorm"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/catalog"
	"github.com/llmgw/gateway/models"
)

// GET /v1/master/audit-logs/export?format=csv|jsonl&from=&to=&projectId=&apiKeyId=
//
// The per-request jurisdiction decisions of the organization, for a
// compliance team: one record per request (its attempt rows in request_logs
// grouped by request_id; the final attempt is the row with retried=false).
//
//   - format: csv (default; header row, RFC 4180, cells starting with = + - @
//     tab or CR are prefixed with ' against formula injection) or jsonl
//     (application/x-ndjson, one object per line, values unaltered).
//   - from, to: RFC 3339 or YYYY-MM-DD (UTC midnight); from inclusive, to
//     exclusive as on every other master route. Defaults: to = now, from = to
//     minus 30 days. to must be after from, the range at most 366 days.
//   - projectId, apiKeyId: optional filters.
//
// The response is streamed: the logs are read in keyset-paginated batches
// (created_at, id) and each batch is written out before the next is read, so
// memory does not grow with the range. A database failure before the first
// byte is a 500; after it, the connection is aborted (the chunked body is never
// terminated) so a truncated export cannot pass for a complete one.
//
// Records are ordered by time. Rows still in the asynchronous log queue are
// not exported yet: export ranges that ended a few seconds ago are final.

// ExportDefaultDays and ExportMaxDays bound the export's date range.
const (
	ExportDefaultDays = 30
	ExportMaxDays     = 366
	exportBatchSize   = 1000
	// exportTimeout bounds one export (a stalled client cannot pin a goroutine).
	exportTimeout = time.Hour
)

// exportColumns is the CSV header, in the order of exportRecord's fields.
var exportColumns = []string{"time", "requestId", "projectId", "apiKeyId", "endpoint", "requestedModel", "model",
	"jurisdiction", "decision", "provider", "region", "hostingJurisdiction", "operatorJurisdiction",
	"status", "errorType", "attempts", "selectionReason"}

// exportRecord is one request of the export.
type exportRecord struct {
	Time           string `json:"time"` // RFC 3339, UTC, microseconds
	RequestID      string `json:"requestId"`
	ProjectID      string `json:"projectId"`
	APIKeyID       string `json:"apiKeyId"`
	Endpoint       string `json:"endpoint"`
	RequestedModel string `json:"requestedModel"`
	Model          string `json:"model"` // the catalog model that was (or would have been) used
	// Jurisdiction is the request's policy ("eu-sovereign", ...); "global" when
	// none applied.
	Jurisdiction string `json:"jurisdiction"`
	// Decision is "refused" when the jurisdiction policy refused the request
	// (jurisdiction_violation, jurisdiction_unavailable), else "allowed" (the
	// status and error type tell whether it then succeeded).
	Decision string `json:"decision"`
	// The final attempt's provider and region, where that endpoint is hosted
	// and where its operator is based ("" when unknown or not attempted).
	Provider             string `json:"provider"`
	Region               string `json:"region"`
	HostingJurisdiction  string `json:"hostingJurisdiction"`
	OperatorJurisdiction string `json:"operatorJurisdiction"`
	Status               int    `json:"status"`
	ErrorType            string `json:"errorType"`
	Attempts             int    `json:"attempts"`
	SelectionReason      string `json:"selectionReason"`
}

func (r *exportRecord) cells(buf []string) []string {
	return append(buf[:0], r.Time, r.RequestID, r.ProjectID, r.APIKeyID, r.Endpoint, r.RequestedModel, r.Model,
		r.Jurisdiction, r.Decision, r.Provider, r.Region, r.HostingJurisdiction, r.OperatorJurisdiction,
		strconv.Itoa(r.Status), r.ErrorType, strconv.Itoa(r.Attempts), r.SelectionReason)
}

// exportRow is the part of a request_logs row the export reads.
type exportRow struct {
	ID              string
	RequestID       string
	CreatedAt       time.Time
	ProjectID       string
	APIKeyID        string `gorm:"column:api_key_id"`
	Endpoint        string
	RequestedModel  string
	UsedModel       string
	UsedProvider    string
	Status          int
	ErrorType       string
	Retried         bool
	RoutingAttempts string
}

const exportSelect = "id, request_id, created_at, project_id, api_key_id, endpoint, requested_model, used_model, " +
	"used_provider, status, error_type, retried, routing_attempts"

// exportQuery is everything a batch read needs, copied out of the fiber.Ctx.
type exportQuery struct {
	db                 *gorm.DB
	org, project, key  string
	from, to           time.Time
	batch              int
	afterAt            time.Time
	afterID            string
	started, exhausted bool
	catalog            func() *catalog.Catalog
	jsonl              bool
	cellsBuf           []string
}

// next reads the next batch (nil when done).
func (q *exportQuery) next(ctx context.Context) ([]exportRow, error) {
	if q.exhausted {
		return nil, nil
	}
	tx := q.db.WithContext(ctx).Model(&models.RequestLog{}).Select(exportSelect).
		Where("organization_id = ? AND created_at >= ? AND created_at < ?", q.org, q.from, q.to)
	if q.project != "" {
		tx = tx.Where("project_id = ?", q.project)
	}
	if q.key != "" {
		tx = tx.Where("api_key_id = ?", q.key)
	}
	if q.started {
		tx = tx.Where("created_at > ? OR (created_at = ? AND id > ?)", q.afterAt, q.afterAt, q.afterID)
	}
	var rows []exportRow
	if err := tx.Order("created_at, id").Limit(q.batch).Find(&rows).Error; err != nil {
		return nil, err
	}
	if len(rows) < q.batch {
		q.exhausted = true
	}
	if n := len(rows); n > 0 {
		q.started, q.afterAt, q.afterID = true, rows[n-1].CreatedAt, rows[n-1].ID
	}
	return rows, nil
}

// exportAuditLogs serves GET /v1/master/audit-logs/export.
func (a *API) exportAuditLogs(c *fiber.Ctx) error {
	format := c.Query("format", "csv")
	if format != "csv" && format != "jsonl" {
		return apierr.BadRequest("'format' must be csv or jsonl.", "format")
	}
	now := time.Now().UTC()
	bound := func(name string, def time.Time) (time.Time, error) {
		v := c.Query(name)
		if v == "" {
			return def, nil
		}
		t, err := parseDate(v)
		if err != nil {
			return time.Time{}, apierr.BadRequest("'"+name+"' must be an RFC 3339 time or a YYYY-MM-DD date.", name)
		}
		return t.UTC(), nil
	}
	to, err := bound("to", now)
	if err != nil {
		return err
	}
	from, err := bound("from", to.AddDate(0, 0, -ExportDefaultDays))
	if err != nil {
		return err
	}
	if !to.After(from) {
		return apierr.BadRequest("'to' must be after 'from'.", "to")
	}
	if to.Sub(from) > ExportMaxDays*24*time.Hour {
		return apierr.BadRequest("The export range ('from' to 'to') must not exceed 366 days.", "to")
	}
	batch := a.ExportBatchSize
	if batch <= 0 {
		batch = exportBatchSize
	}
	q := &exportQuery{db: a.DB, org: org(c), project: c.Query("projectId"), key: c.Query("apiKeyId"),
		from: from, to: to, batch: batch, catalog: a.Catalog, jsonl: format == "jsonl"}

	// The first batch is read before anything is sent, so a failing database
	// is still a clean 500.
	first, err := q.next(c.UserContext())
	if err != nil {
		return apierr.Internal("Could not read request logs.")
	}

	stamp := func(t time.Time) string { return t.Format("20060102T150405Z") }
	name := "audit-logs-" + stamp(from) + "-" + stamp(to) + "." + format
	if q.jsonl {
		c.Set(fiber.HeaderContentType, "application/x-ndjson")
	} else {
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	}
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")

	// Nothing of c is used past this point: the body is produced after the
	// handler returns, by this goroutine, into a pipe the server reads from.
	// A read error other than EOF makes the server drop the connection.
	pr, pw := io.Pipe()
	ctx, cancel := context.WithTimeout(context.Background(), exportTimeout)
	stop := context.AfterFunc(ctx, func() { pr.CloseWithError(ctx.Err()) })
	go func() {
		defer cancel()
		defer stop()
		pw.CloseWithError(q.stream(ctx, pw, first))
	}()
	c.Context().SetBodyStream(pr, -1)
	return nil
}

// stream writes the records, one batch at a time, flushing after each.
func (q *exportQuery) stream(ctx context.Context, w io.Writer, rows []exportRow) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	var cw *csv.Writer
	var enc *json.Encoder
	if q.jsonl {
		enc = json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
	} else {
		cw = csv.NewWriter(bw)
		if err := cw.Write(exportColumns); err != nil {
			return err
		}
	}
	var cat *catalog.Catalog
	if q.catalog != nil {
		cat = q.catalog()
	}
	g := grouper{emit: func(r *exportRecord) error {
		if enc != nil {
			return enc.Encode(r)
		}
		q.cellsBuf = r.cells(q.cellsBuf)
		for i, v := range q.cellsBuf {
			q.cellsBuf[i] = csvSafe(v)
		}
		return cw.Write(q.cellsBuf)
	}, cat: cat}
	for {
		for i := range rows {
			if err := g.add(&rows[i]); err != nil {
				return err
			}
		}
		if len(rows) == 0 || q.exhausted {
			if err := g.flush(); err != nil {
				return err
			}
		}
		if cw != nil {
			if cw.Flush(); cw.Error() != nil {
				return cw.Error()
			}
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		if len(rows) == 0 || q.exhausted {
			return nil
		}
		var err error
		if rows, err = q.next(ctx); err != nil {
			return err
		}
	}
}

// csvSafe neutralises spreadsheet formulas (OWASP "CSV injection"): a cell a
// spreadsheet would evaluate gets a leading apostrophe.
func csvSafe(v string) string {
	if v == "" {
		return v
	}
	switch v[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + v
	}
	return v
}

// grouper turns attempt rows, ordered by (created_at, id), into one record per
// request. Every attempt row of a request carries the request's start time, so
// a request's rows are all among the rows of one created_at value; only those
// are held, whatever the range.
type grouper struct {
	at     time.Time
	groups []*attemptGroup
	emit   func(*exportRecord) error
	cat    *catalog.Catalog
	rec    exportRecord
}

type attemptGroup struct {
	key         string
	rows        int
	final, last exportRow
	hasFinal    bool
}

func (g *grouper) add(r *exportRow) error {
	if len(g.groups) > 0 && !r.CreatedAt.Equal(g.at) {
		if err := g.flush(); err != nil {
			return err
		}
	}
	g.at = r.CreatedAt
	key := r.RequestID
	if key == "" { // no request id: the row stands alone
		key = "\x00" + r.ID
	}
	var grp *attemptGroup
	for _, x := range g.groups {
		if x.key == key {
			grp = x
			break
		}
	}
	if grp == nil {
		grp = &attemptGroup{key: key}
		g.groups = append(g.groups, grp)
	}
	grp.rows++
	grp.last = *r
	if !r.Retried {
		grp.final, grp.hasFinal = *r, true
	}
	return nil
}

func (g *grouper) flush() error {
	for _, grp := range g.groups {
		g.record(grp)
		if err := g.emit(&g.rec); err != nil {
			return err
		}
	}
	clear(g.groups)
	g.groups = g.groups[:0]
	return nil
}

// decisionInfo is the part of the log row's routing metadata the export reads.
type decisionInfo struct {
	Routing []struct {
		Provider string `json:"provider"`
		Region   string `json:"region"`
		// Recorded at decision time when the gateway writes them; otherwise
		// the current catalog is asked.
		Hosting  string `json:"hosting"`
		Operator string `json:"operator"`
	} `json:"routing"`
	SelectionReason string `json:"selectionReason"`
	Jurisdiction    string `json:"jurisdiction"`
}

func (g *grouper) record(grp *attemptGroup) {
	f := &grp.final
	if !grp.hasFinal {
		f = &grp.last
	}
	var info decisionInfo
	parsed := f.RoutingAttempts != "" && json.Unmarshal([]byte(f.RoutingAttempts), &info) == nil
	r := &g.rec
	*r = exportRecord{Time: f.CreatedAt.UTC().Format("2006-01-02T15:04:05.000000Z07:00"), RequestID: f.RequestID,
		ProjectID: f.ProjectID, APIKeyID: f.APIKeyID, Endpoint: f.Endpoint, RequestedModel: f.RequestedModel,
		Model: f.UsedModel, Jurisdiction: info.Jurisdiction, Decision: "allowed", Provider: f.UsedProvider,
		Status: f.Status, ErrorType: f.ErrorType, SelectionReason: info.SelectionReason}
	if r.Jurisdiction == "" {
		r.Jurisdiction = "global"
	}
	switch f.ErrorType {
	case "jurisdiction_violation", "jurisdiction_unavailable":
		r.Decision = "refused"
	}
	if parsed {
		r.Attempts = len(info.Routing)
		if n := len(info.Routing); n > 0 && info.Routing[n-1].Provider == f.UsedProvider {
			last := info.Routing[n-1]
			r.Region, r.HostingJurisdiction, r.OperatorJurisdiction = last.Region, last.Hosting, last.Operator
		}
	} else if f.UsedProvider != "" {
		r.Attempts = grp.rows
	}
	if r.Provider != "" && g.cat != nil {
		if p, ok := g.cat.Provider(r.Provider); ok {
			if r.OperatorJurisdiction == "" {
				r.OperatorJurisdiction = p.Operator
			}
			if r.HostingJurisdiction == "" {
				r.HostingJurisdiction = p.Jurisdiction
				if reg, ok := p.Region(r.Region); ok && r.Region != "" {
					r.HostingJurisdiction = reg.Jurisdiction
				}
			}
		}
	}
}
