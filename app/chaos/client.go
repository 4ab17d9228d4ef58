package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Outcomes of a client request, as the client sees it.
const (
	outOK        = "ok"
	outCut       = "mid-stream cut" // an SSE error event after content: by design, excluded from the target
	outStatus    = "status"         // a non-200 answer
	outTransport = "transport"      // the gateway's connection failed
	outSilent    = "silent truncation"
	outBadBody   = "bad body"
	// outFakeCut: a stream ended by an error event after content although no
	// upstream cut it: the gateway broke a healthy stream.
	outFakeCut = "mid-stream error, no upstream cut"
)

// sample is one client request.
type sample struct {
	id       string
	phase    int
	model    string
	stream   bool
	start    time.Time
	latency  time.Duration // until the last byte
	ttfb     time.Duration // streams: until the first content chunk
	status   int
	outcome  string
	detail   string   // for failures: what was seen
	provider string   // X-LLMGateway-Used-Provider
	attempts int      // metadata.routing entries (0 unknown: taken from the request log later)
	upstream []string // what the upstreams did with it ("provider:fault"), from the journal
	gwRoute  string   // the gateway's routing attempts, from its request log (examples only)
}

// clientError: the request failed as the client sees it (mid-stream cuts excluded).
func (s *sample) clientError() bool { return s.outcome != outOK && s.outcome != outCut }

// errKey groups client errors in the report: "502", "transport", ...
func (s *sample) errKey() string {
	if s.outcome == outStatus {
		return fmt.Sprint(s.status)
	}
	return s.outcome
}

func newHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     30 * time.Second,
	}}
}

// driver runs the clients.
type driver struct {
	base, apiKey string
	streamRatio  float64
	timeout      time.Duration // per request
	sched        *schedule
	http         *http.Client
	seq          atomic.Int64
	run          string // request id prefix of this run

	mu      sync.Mutex
	samples []sample
}

// load runs n clients in a closed loop until stop is closed; each request
// counts in the phase current when it started.
func (d *driver) load(ctx context.Context, n int, stop <-chan struct{}) {
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				s := d.one(ctx)
				if ctx.Err() != nil {
					return // interrupted: the request says nothing about the gateway
				}
				d.mu.Lock()
				d.samples = append(d.samples, s)
				d.mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func (d *driver) one(ctx context.Context) sample {
	s := sample{
		id:     fmt.Sprintf("%s-%d", d.run, d.seq.Add(1)),
		phase:  d.sched.current(),
		model:  modelIDs[rand.IntN(len(modelIDs))],
		stream: rand.Float64() < d.streamRatio,
	}
	words := 8 + rand.IntN(17)
	body, _ := json.Marshal(map[string]any{
		"model":      s.model,
		"stream":     s.stream,
		"max_tokens": words,
		"messages": []map[string]string{
			{"role": "user", "content": fmt.Sprintf("chaos request %s (phase %d): answer with %d words", s.id, s.phase+1, words)},
		},
	})
	want := strings.Join(answerWords(words), "")
	rctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(rctx, "POST", d.base+"/v1/chat/completions", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+d.apiKey)
	req.Header.Set("X-Request-Id", s.id)
	s.start = time.Now()
	resp, err := d.http.Do(req)
	if err != nil {
		s.latency, s.outcome, s.detail = time.Since(s.start), outTransport, err.Error()
		return s
	}
	defer resp.Body.Close()
	s.status = resp.StatusCode
	s.provider = resp.Header.Get("X-LLMGateway-Used-Provider")
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 2000))
		s.latency, s.outcome, s.detail = time.Since(s.start), outStatus, strings.TrimSpace(string(b))
		return s
	}
	if s.stream {
		d.readStream(&s, resp.Body, want)
	} else {
		d.readJSON(&s, resp.Body, want)
	}
	s.latency = time.Since(s.start)
	return s
}

type routingMeta struct {
	Routing []struct {
		Provider  string `json:"provider"`
		Succeeded bool   `json:"succeeded"`
	} `json:"routing"`
}

func (d *driver) readJSON(s *sample, body io.Reader, want string) {
	b, err := io.ReadAll(body)
	if err != nil {
		s.outcome, s.detail = outTransport, "reading the body: "+err.Error()
		return
	}
	var r struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
		Usage    *json.RawMessage `json:"usage"`
		Metadata *routingMeta     `json:"metadata"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		s.outcome, s.detail = outBadBody, fmt.Sprintf("not JSON: %.200s", b)
		return
	}
	if r.Metadata != nil {
		s.attempts = len(r.Metadata.Routing)
	}
	switch {
	case len(r.Choices) != 1 || r.Choices[0].Message.Content != want:
		s.outcome, s.detail = outBadBody, fmt.Sprintf("unexpected answer: %.200s", b)
	case r.Usage == nil:
		s.outcome, s.detail = outBadBody, "no usage"
	default:
		s.outcome = outOK
	}
}

// readStream reads the SSE answer: content chunks (checked against the
// expected answer), the usage chunk with metadata, [DONE]; or an error event.
func (d *driver) readStream(s *sample, body io.Reader, want string) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var got strings.Builder
	event, sawUsage, done := "", false, false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			event = ""
			continue
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
			continue
		case !strings.HasPrefix(line, "data:"):
			continue
		}
		data := strings.TrimSpace(strings.TrimPrefix(line, "data:"))
		if event == "error" {
			if got.Len() > 0 {
				s.outcome, s.detail = outCut, data
			} else {
				s.outcome, s.detail = outStatus, "error event before any content: "+data
			}
			return
		}
		if data == "[DONE]" {
			done = true
			break
		}
		var ch struct {
			Choices []struct {
				Delta struct {
					Content *string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
			Usage    *json.RawMessage `json:"usage"`
			Metadata *routingMeta     `json:"metadata"`
			Error    *json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal([]byte(data), &ch); err != nil {
			s.outcome, s.detail = outBadBody, fmt.Sprintf("invalid chunk: %.200s", data)
			return
		}
		if ch.Error != nil {
			s.outcome, s.detail = outBadBody, "error object in a data event: "+data
			return
		}
		for _, c := range ch.Choices {
			if c.Delta.Content != nil && *c.Delta.Content != "" {
				if got.Len() == 0 {
					s.ttfb = time.Since(s.start)
				}
				got.WriteString(*c.Delta.Content)
			}
		}
		if ch.Usage != nil {
			sawUsage = true
		}
		if ch.Metadata != nil {
			s.attempts = len(ch.Metadata.Routing)
		}
	}
	if err := sc.Err(); err != nil && !done {
		if errors.Is(err, context.DeadlineExceeded) {
			s.outcome, s.detail = outTransport, "client timeout"
			return
		}
		s.outcome, s.detail = outTransport, "reading the stream: "+err.Error()
		return
	}
	switch {
	case !done:
		// The stream ended without [DONE] and without an error event: the
		// client cannot tell a cut stream from a finished one.
		s.outcome, s.detail = outSilent, fmt.Sprintf("ended without [DONE] or error event after %q", got.String())
	case got.String() != want:
		s.outcome, s.detail = outSilent, fmt.Sprintf("[DONE] after a wrong answer: got %q, want %q", got.String(), want)
	case !sawUsage:
		s.outcome, s.detail = outBadBody, "no usage chunk"
	default:
		s.outcome = outOK
	}
}
