// Package spend enforces the spend limits of gateway API keys (lifetime
// usageLimit and recurring periodUsageLimit) and keeps each key's spend.
//
// Enforcement never waits for the database: every key has an in-memory account.
// Before an upstream call the gateway reserves an estimate of the request's
// highest possible cost; when the call ends the reservation is settled to the
// actual cost (or released on failure). Admission counts reservations, so N
// concurrent requests cannot together overshoot a limit. Spend deltas are
// written to the database by one background writer, in batches.
package spend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/llmgw/gateway/app/pricing"
	"github.com/llmgw/gateway/models"
)

// LimitError refuses a request: 402 billing_error.
type LimitError struct {
	Msg string
	// Reached is true when the limit is already spent; false when only this
	// request's estimate does not fit (a tighter estimate might).
	Reached bool
}

func (e *LimitError) Error() string { return e.Msg }

// Accountant holds the accounts of all keys seen by this instance.
type Accountant struct {
	db  *gorm.DB
	log *slog.Logger
	now func() time.Time

	mu       sync.Mutex
	accounts map[string]*account
	shared   *shared // nil: accounts are this instance's only
}

type account struct {
	mu          sync.Mutex
	loaded      bool
	usage       int64 // lifetime spend, nano-USD
	period      int64 // spend in the current window
	periodStart time.Time
	reserved    int64 // outstanding reservations
	dirtyUsage  int64 // lifetime spend not yet written
	dirty       bool
}

// New returns an accountant persisting to db.
func New(db *gorm.DB, log *slog.Logger) *Accountant {
	return &Accountant{db: db, log: log, now: time.Now, accounts: map[string]*account{}}
}

func (a *Accountant) account(k *models.APIKey) *account {
	a.mu.Lock()
	acc := a.accounts[k.ID]
	if acc == nil {
		acc = &account{}
		a.accounts[k.ID] = acc
	}
	a.mu.Unlock()
	acc.mu.Lock()
	if !acc.loaded { // first sight: start from the persisted spend
		acc.loaded, acc.usage, acc.period = true, k.Usage, k.PeriodUsage
		if k.PeriodStart != nil {
			acc.periodStart = *k.PeriodStart
		}
	}
	acc.mu.Unlock()
	return acc
}

// Reservation is an admitted request's hold on its key's budget.
type Reservation struct {
	a      *Accountant
	acc    *account
	amount int64
	done   bool
	// shared (Redis) reservations
	member string
	keys   []string
	window time.Time
	ttl    int64
}

// Reserve admits a request whose cost is at most estimate (nano-USD), or refuses
// it when a limit of k is reached or would be exceeded.
func (a *Accountant) Reserve(k *models.APIKey, estimate int64) (*Reservation, error) {
	if a.shared != nil {
		return a.reserveShared(k, estimate)
	}
	acc := a.account(k)
	acc.mu.Lock()
	defer acc.mu.Unlock()
	a.roll(acc, k)
	if k.UsageLimit != nil {
		if err := check("usage limit", *k.UsageLimit, acc.usage, acc.reserved, estimate); err != nil {
			return nil, err
		}
	}
	if k.PeriodUsageLimit != nil && window(k) > 0 {
		if err := check("recurring usage limit", *k.PeriodUsageLimit, acc.period, acc.reserved, estimate); err != nil {
			return nil, err
		}
	}
	acc.reserved += estimate
	return &Reservation{a: a, acc: acc, amount: estimate}, nil
}

func check(what string, limit, spent, reserved, estimate int64) error {
	if spent >= limit {
		return &LimitError{Msg: "API key reached its " + what + ".", Reached: true}
	}
	if spent+reserved+estimate > limit {
		return &LimitError{Msg: fmt.Sprintf("API key %s would be exceeded by this request: it may cost up to $%s and $%s of the limit remains (other requests in flight hold part of it). Lower max_tokens or raise the limit.",
			what, pricing.FormatUSD(estimate), pricing.FormatUSD(max(limit-spent-reserved, 0)))}
	}
	return nil
}

// roll starts a new window when the current one is over, or when the key's
// window was reset by a configuration change.
func (a *Accountant) roll(acc *account, k *models.APIKey) {
	if k.PeriodStart != nil && k.PeriodStart.After(acc.periodStart) {
		acc.periodStart, acc.period = *k.PeriodStart, k.PeriodUsage
	}
	d := window(k)
	if d == 0 {
		return
	}
	now := a.now()
	if acc.periodStart.IsZero() {
		acc.periodStart = now
		acc.dirty = true
		return
	}
	if now.Before(advance(acc.periodStart, k, 1)) {
		return
	}
	// Skip whole windows (a key idle for weeks starts a window aligned to its cadence).
	start := acc.periodStart
	for n := 1; !now.Before(advance(acc.periodStart, k, n)); n++ {
		start = advance(acc.periodStart, k, n)
	}
	acc.periodStart, acc.period, acc.dirty = start, 0, true
}

// window is the recurring window's nominal length (0 when not configured).
func window(k *models.APIKey) time.Duration {
	if k.PeriodUsageDurationValue == nil || k.PeriodUsageDurationUnit == nil || *k.PeriodUsageDurationValue <= 0 {
		return 0
	}
	v := time.Duration(*k.PeriodUsageDurationValue)
	switch *k.PeriodUsageDurationUnit {
	case "hour":
		return v * time.Hour
	case "day":
		return v * 24 * time.Hour
	case "week":
		return v * 7 * 24 * time.Hour
	case "month":
		return v * 30 * 24 * time.Hour
	}
	return 0
}

// advance returns the start of the n-th window after start (calendar months for "month").
func advance(start time.Time, k *models.APIKey, n int) time.Time {
	if *k.PeriodUsageDurationUnit == "month" {
		return start.AddDate(0, n**k.PeriodUsageDurationValue, 0)
	}
	return start.Add(time.Duration(n) * window(k))
}

// Settle ends the reservation with the request's actual cost.
func (r *Reservation) Settle(actual int64) {
	if r == nil || r.done {
		return
	}
	r.done = true
	if r.keys != nil {
		r.settleShared(actual)
		return
	}
	acc := r.acc
	acc.mu.Lock()
	acc.reserved -= r.amount
	acc.usage += actual
	acc.period += actual
	acc.dirtyUsage += actual
	acc.dirty = acc.dirty || actual != 0
	acc.mu.Unlock()
}

// Release ends the reservation of a request that cost nothing.
func (r *Reservation) Release() { r.Settle(0) }

// Record adds spend of a key that needed no reservation (no limits set).
func (a *Accountant) Record(k *models.APIKey, actual int64) {
	if actual == 0 {
		return
	}
	if a.shared != nil {
		if r, err := a.reserveShared(&models.APIKey{ID: k.ID, Usage: k.Usage, PeriodUsage: k.PeriodUsage, PeriodStart: k.PeriodStart,
			PeriodUsageDurationValue: k.PeriodUsageDurationValue, PeriodUsageDurationUnit: k.PeriodUsageDurationUnit}, 0); err == nil {
			r.Settle(actual)
			return
		}
	}
	acc := a.account(k)
	acc.mu.Lock()
	a.roll(acc, k)
	acc.mu.Unlock()
	(&Reservation{a: a, acc: acc}).Settle(actual)
}

// Spent returns a key's lifetime and current-window spend as this instance knows them.
func (a *Accountant) Spent(k *models.APIKey) (usage, period int64) {
	acc := a.account(k)
	acc.mu.Lock()
	defer acc.mu.Unlock()
	a.roll(acc, k)
	return acc.usage, acc.period
}

// Run writes spend to the database every interval until ctx ends, then once more.
func (a *Accountant) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := a.Flush(context.Background()); err != nil {
				a.log.Warn("spend flush failed; will retry", "error", err)
			}
		}
	}
}

// Flush writes every account's pending spend. Lifetime spend is added (several
// instances may add to it); the window's spend and start are this instance's
// view (shared exactly only through Redis). updated_at is left alone: spend is
// not a configuration change the key caches need to reload.
func (a *Accountant) Flush(ctx context.Context) error {
	a.mu.Lock()
	ids := make([]string, 0, len(a.accounts))
	accs := make([]*account, 0, len(a.accounts))
	for id, acc := range a.accounts {
		ids, accs = append(ids, id), append(accs, acc)
	}
	a.mu.Unlock()
	var errs []error
	for i, acc := range accs {
		acc.mu.Lock()
		if !acc.dirty {
			acc.mu.Unlock()
			continue
		}
		delta, period, start := acc.dirtyUsage, acc.period, acc.periodStart
		acc.dirtyUsage, acc.dirty = 0, false
		acc.mu.Unlock()
		fields := map[string]any{"usage": gorm.Expr("usage + ?", delta), "period_usage": period}
		if !start.IsZero() {
			fields["period_start"] = start.UTC()
		}
		if err := a.db.WithContext(ctx).Model(&models.APIKey{}).Where("id = ?", ids[i]).UpdateColumns(fields).Error; err != nil {
			acc.mu.Lock() // keep the delta for the next attempt
			acc.dirtyUsage += delta
			acc.dirty = true
			acc.mu.Unlock()
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
