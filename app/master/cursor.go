package master

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"gorm.io/gorm"

	"github.com/llmgw/gateway/app/apierr"
)

// Pages are ordered newest first by (created_at, id); a cursor is the last row's
// pair, so pages stay stable while new rows arrive.

type cursor struct {
	At time.Time
	ID string
}

func (c cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.At.UnixMicro(), 10) + "|" + c.ID))
}

func parseCursor(s string) (*cursor, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	us, id, ok := strings.Cut(string(b), "|")
	n, err2 := strconv.ParseInt(us, 10, 64)
	if err != nil || !ok || err2 != nil || id == "" {
		return nil, apierr.BadRequest("Invalid cursor.", "cursor")
	}
	return &cursor{At: time.UnixMicro(n).UTC(), ID: id}, nil
}

// page applies the cursor, order and limit (?limit=, default 50, max 200) and
// returns the limit.
func page(c *fiber.Ctx, q *gorm.DB) (*gorm.DB, int, error) {
	limit := c.QueryInt("limit", 50)
	if limit < 1 || limit > 200 {
		return nil, 0, apierr.BadRequest("'limit' must be between 1 and 200.", "limit")
	}
	cur, err := parseCursor(c.Query("cursor"))
	if err != nil {
		return nil, 0, err
	}
	if cur != nil {
		q = q.Where("created_at < ? OR (created_at = ? AND id < ?)", cur.At, cur.At, cur.ID)
	}
	return q.Order("created_at DESC, id DESC").Limit(limit + 1), limit, nil
}

// dateRange applies ?from= and ?to= (RFC 3339 or YYYY-MM-DD; to is exclusive).
func dateRange(c *fiber.Ctx, q *gorm.DB, column string) (*gorm.DB, error) {
	for _, p := range []struct{ name, op string }{{"from", ">="}, {"to", "<"}} {
		v := c.Query(p.name)
		if v == "" {
			continue
		}
		t, err := parseDate(v)
		if err != nil {
			return nil, apierr.BadRequest("'"+p.name+"' must be an RFC 3339 time or a YYYY-MM-DD date.", p.name)
		}
		q = q.Where(column+" "+p.op+" ?", t)
	}
	return q, nil
}

func parseDate(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	return time.Parse("2006-01-02", v)
}

// findPage reads one page of q, newest first: the date range and the cursor
// of the request applied, and the cursor of the next page ("" at the end).
// key gives a row's creation time and id; what names the rows in the error.
func findPage[T any](c *fiber.Ctx, q *gorm.DB, what string, key func(*T) (time.Time, string)) ([]T, string, error) {
	q, err := dateRange(c, q, "created_at")
	if err != nil {
		return nil, "", err
	}
	q, limit, err := page(c, q)
	if err != nil {
		return nil, "", err
	}
	var rows []T
	if err := q.Find(&rows).Error; err != nil {
		return nil, "", apierr.Internal("Could not read " + what + ".")
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		at, id := key(&rows[limit-1])
		next = cursor{At: at, ID: id}.String()
	}
	return rows, next, nil
}
