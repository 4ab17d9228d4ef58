//go:build unix

package gateway

import (
	"errors"
	"sync"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
)

// watchClient calls gone (once) when the client closes its connection while a
// non-streaming request is being served. fasthttp does not tell a handler that
// its client left, and nothing is written until the answer is ready, so the
// socket is polled with a non-consuming peek: 0 bytes means the peer closed,
// a reset is an error; pending bytes (a pipelined request) are left in place.
//
// One goroutine polls every watched socket of the process (clients): a
// goroutine and a ticker per request cost more scheduling than the polls
// themselves at a thousand requests a second. After stop returns, gone is
// not called.
func watchClient(c *fiber.Ctx, gone func()) (stop func()) {
	sc, ok := c.Context().Conn().(syscall.Conn)
	if !ok {
		return func() {}
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return func() {}
	}
	w := &watched{raw: raw, gone: gone}
	clients.add(w)
	return func() { clients.remove(w) }
}

// clientPollInterval is how soon a disconnect is noticed.
const clientPollInterval = 100 * time.Millisecond

type watched struct {
	raw  syscall.RawConn
	gone func()
}

// closed peeks at the socket without consuming or waiting.
func (w *watched) closed() bool {
	var buf [1]byte
	closed := false
	_ = w.raw.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = (n == 0 && err == nil) || (err != nil && !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EINTR))
		return true // never wait for readability: this is a poll
	})
	return closed
}

// watchSet is the set of watched requests and its polling goroutine, started
// with the first watch.
type watchSet struct {
	mu    sync.Mutex
	set   map[*watched]struct{}
	start sync.Once
}

var clients watchSet

func (s *watchSet) add(w *watched) {
	s.start.Do(func() { go s.poll() })
	s.mu.Lock()
	if s.set == nil {
		s.set = make(map[*watched]struct{})
	}
	s.set[w] = struct{}{}
	s.mu.Unlock()
}

func (s *watchSet) remove(w *watched) {
	s.mu.Lock()
	delete(s.set, w)
	s.mu.Unlock()
}

// poll peeks at every watched socket each interval, outside the lock (a
// request starting or ending never waits for the syscalls), and reports the
// closed ones that are still watched.
func (s *watchSet) poll() {
	var batch []*watched
	for range time.Tick(clientPollInterval) {
		s.mu.Lock()
		batch = batch[:0]
		for w := range s.set {
			batch = append(batch, w)
		}
		s.mu.Unlock()
		for i, w := range batch {
			batch[i] = nil
			if !w.closed() {
				continue
			}
			s.mu.Lock()
			if _, ok := s.set[w]; ok {
				delete(s.set, w)
				w.gone() // under the lock: a concurrent stop waits, then gone is never called
			}
			s.mu.Unlock()
		}
	}
}
