package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// request is what every target is sent: the same body and headers.
type request struct {
	body   []byte
	header http.Header
}

const chatPath = "/v1/chat/completions"

// newClient is a keep-alive client with a pool large enough that no request
// ever waits for a connection.
func newClient() *http.Client {
	return &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        20000,
			MaxIdleConnsPerHost: 10000,
			IdleConnTimeout:     2 * time.Minute,
			DisableCompression:  true,
		},
	}
}

// attack drives base+chatPath with vegeta: open-loop at rate req/s, or, with
// rate 0, closed-loop with exactly workers concurrent requests.
func attack(ctx context.Context, client *http.Client, base string, r request, rate, workers int, d time.Duration) []sample {
	opts := []func(*vegeta.Attacker){vegeta.Client(client), vegeta.MaxBody(-1)}
	pacer := vegeta.Rate{Freq: rate, Per: time.Second}
	if rate == 0 {
		opts = append(opts, vegeta.Workers(uint64(workers)), vegeta.MaxWorkers(uint64(workers)))
	} else {
		opts = append(opts, vegeta.Workers(uint64(max(workers, 1))))
	}
	atk := vegeta.NewAttacker(opts...)
	tgt := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodPost, URL: base + chatPath, Body: r.body, Header: r.header})
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()
	var out []sample
	if rate > 0 {
		out = make([]sample, 0, int(float64(rate)*d.Seconds())+16)
	}
	for res := range atk.Attack(tgt, pacer, d, "") {
		ok := res.Code >= 200 && res.Code < 300 && res.Error == ""
		s := sample{at: res.Timestamp, lat: res.Latency, ok: ok}
		if !ok {
			s.err = res.Error
			if s.err == "" {
				s.err = fmt.Sprintf("HTTP %d", res.Code)
			}
		}
		out = append(out, s)
	}
	return out
}

// streamRun is what a batch of concurrent streams measured.
type streamRun struct {
	samples []sample        // one per stream: its whole duration
	ttfb    []time.Duration // request sent → first data event
	gaps    []time.Duration // between two consecutive content chunks
}

// streams opens n streams, started evenly over ramp, and reads each to its end.
func streams(ctx context.Context, client *http.Client, base string, r request, n int, ramp time.Duration) *streamRun {
	var (
		mu  sync.Mutex
		out = &streamRun{}
		wg  sync.WaitGroup
	)
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(delay time.Duration) {
			defer wg.Done()
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return
			}
			s, ttfb, gaps := oneStream(ctx, client, base, r)
			mu.Lock()
			defer mu.Unlock()
			out.samples = append(out.samples, s)
			if s.ok {
				out.ttfb = append(out.ttfb, ttfb)
				out.gaps = append(out.gaps, gaps...)
			}
		}(time.Until(start.Add(ramp * time.Duration(i) / time.Duration(n))))
	}
	wg.Wait()
	return out
}

var (
	dataPrefix = []byte("data: ")
	doneEvent  = []byte("data: [DONE]")
	deltaField = []byte(`"delta"`)
)

func oneStream(ctx context.Context, client *http.Client, base string, r request) (s sample, ttfb time.Duration, gaps []time.Duration) {
	s.at = time.Now()
	defer func() { s.lat = time.Since(s.at) }()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+chatPath, bytes.NewReader(r.body))
	if err != nil {
		s.err = err.Error()
		return
	}
	req.Header = r.header.Clone()
	resp, err := client.Do(req)
	if err != nil {
		s.err = err.Error()
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.err = fmt.Sprintf("HTTP %d", resp.StatusCode)
		return
	}
	br := bufio.NewReaderSize(resp.Body, 16<<10)
	var last time.Time
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 && bytes.HasPrefix(line, dataPrefix) {
			now := time.Now()
			if ttfb == 0 {
				ttfb = now.Sub(s.at)
			}
			if bytes.HasPrefix(line, doneEvent) {
				s.ok = true
				return
			}
			if bytes.Contains(line, deltaField) {
				if !last.IsZero() {
					gaps = append(gaps, now.Sub(last))
				}
				last = now
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			s.err = "stream ended without [DONE]: " + err.Error()
			return
		}
	}
}
