package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"
)

// bench is one run: a temp dir, a throw-away database, the gateway binary
// and its API key. Each scenario starts its own mock, proxy and gateway.
type bench struct {
	opts   options
	tmp    string
	db     *benchDB
	gwBin  string
	env    gatewayEnv
	apiKey string
	master string
	// features says what the first gateway switched on for the key (set once).
	features string
}

func newBench(ctx context.Context, o options) (*bench, error) {
	tmp, err := os.MkdirTemp("", "gw-loadtest-")
	if err != nil {
		return nil, err
	}
	b := &bench{opts: o, tmp: tmp}
	b.gwBin = o.gatewayBin
	if b.gwBin == "" {
		progress("building the gateway")
		if b.gwBin, err = buildGateway(ctx, tmp); err != nil {
			b.close()
			return nil, err
		}
	}
	if b.db, err = createBenchDB(ctx, o.pg); err != nil {
		b.close()
		return nil, err
	}
	progress("database %s", b.db.name)
	b.env = newGatewayEnv(b.db.url, tmp)
	if b.apiKey, b.master, err = provisionKey(ctx, b.gwBin, b.env); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func (b *bench) close() {
	if b.db != nil {
		if err := b.db.drop(); err != nil {
			progress("drop database %s: %v", b.db.name, err)
		}
	}
	if b.opts.keep {
		progress("logs kept in %s", b.tmp)
		return
	}
	os.RemoveAll(b.tmp)
}

// request builds the body every target of a scenario receives.
func (b *bench) request(body []byte) request {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Authorization", "Bearer "+b.apiKey)
	return request{body: body, header: h}
}

// stack is one scenario's servers.
type stack struct {
	mock, proxy, gw *child
	rows0           int64
}

// mockConfig is what a scenario asks of the mock.
type mockConfig struct {
	latency, chunkDelay  time.Duration
	tokens, streamTokens int
}

func (b *bench) startStack(ctx context.Context, mc mockConfig, gwEnv map[string]string) (s *stack, err error) {
	s = &stack{}
	defer func() {
		if err != nil {
			s.kill()
		}
	}()
	s.mock, err = startRole(b.tmp, "mock", "-latency", mc.latency.String(), "-chunk-delay", mc.chunkDelay.String(),
		"-tokens", strconv.Itoa(mc.tokens), "-stream-tokens", strconv.Itoa(mc.streamTokens))
	if err != nil {
		return s, err
	}
	if s.proxy, err = startRole(b.tmp, "proxy", "-upstream", s.mock.url); err != nil {
		return s, err
	}
	if s.rows0, err = b.db.logRows(ctx); err != nil {
		return s, err
	}
	env := b.env.with(gwEnv).with(map[string]string{"LLM_OPENAI_BASE_URL": s.mock.url})
	if s.gw, err = startGateway(ctx, b.gwBin, b.tmp, env); err != nil {
		return s, err
	}
	if b.features == "" { // stored in the database: later gateways load it
		if b.features, err = b.configureKey(s.gw.url); err != nil {
			return s, err
		}
		progress("%s", b.features)
	}
	return s, nil
}

func (b *bench) configureKey(base string) (string, error) {
	if b.opts.plainKey {
		return "the API key has no limits and no IAM rules (-plain-key)", nil
	}
	return configureKey(base, b.master)
}

// logAccount is the request log's bookkeeping of one scenario.
type logAccount struct {
	requests, rows, dropped int64
}

// finish stops the gateway (SIGTERM flushes its log), then the helpers, and
// returns the rows written during the scenario.
func (s *stack) finish(ctx context.Context, b *bench, requests int) (logAccount, error) {
	acc := logAccount{requests: int64(requests)}
	q, qerr := drainLogQueue(s.gw.url, 60*time.Second)
	acc.dropped = q.Dropped
	err := s.gw.stop(45 * time.Second)
	s.kill()
	rows, rerr := b.db.logRows(ctx)
	acc.rows = rows - s.rows0
	return acc, errors.Join(qerr, err, rerr)
}

func (s *stack) kill() {
	for _, c := range []*child{s.gw, s.proxy, s.mock} {
		if c != nil {
			_ = c.stop(5 * time.Second)
		}
	}
}

// target is one way to reach the mock.
type target struct {
	name string
	url  string
	pid  int // the hop's process (0: none)
}

func (s *stack) targets() []target {
	return []target{
		{"direct", s.mock.url, 0},
		{"bare proxy", s.proxy.url, s.proxy.pid()},
		{"gateway", s.gw.url, s.gw.pid()},
	}
}

// logChecks are the request-log accounting checks of a scenario: every row is
// written or counted as dropped (must), and, where asked, all are written.
func logChecks(scen string, acc logAccount, allWritten bool) []check {
	cs := []check{{
		scenario: scen, what: "log rows written + dropped = gateway requests",
		got:    fmt.Sprintf("%d + %d", acc.rows, acc.dropped),
		target: fmt.Sprintf("= %d", acc.requests), pass: acc.rows+acc.dropped == acc.requests, must: true,
	}}
	if allWritten {
		cs = append(cs, check{scenario: scen, what: "every request logged", got: fmt.Sprintf("%d rows", acc.rows),
			target: fmt.Sprintf("%d", acc.requests), pass: acc.rows == acc.requests})
	}
	return cs
}

func logNote(acc logAccount) string {
	return fmt.Sprintf("Gateway request log: %d requests (warm-up included), %d rows written, %d dropped.", acc.requests, acc.rows, acc.dropped)
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadtest: "+format+"\n", args...)
}
