//go:build unix

package gateway

import (
	"errors"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
)

// watchClient calls gone (once) when the client closes its connection while a
// non-streaming request is being served. fasthttp does not tell a handler that
// its client left, and nothing is written until the answer is ready, so the
// socket is polled with a non-consuming peek: 0 bytes means the peer closed,
// a reset is an error; pending bytes (a pipelined request) are left in place.
func watchClient(c *fiber.Ctx, gone func()) (stop func()) {
	sc, ok := c.Context().Conn().(syscall.Conn)
	if !ok {
		return func() {}
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		var buf [1]byte
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			closed := false
			_ = raw.Read(func(fd uintptr) bool {
				n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
				closed = (n == 0 && err == nil) || (err != nil && !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EINTR))
				return true // never wait for readability: this is a poll
			})
			if closed {
				gone()
				return
			}
		}
	}()
	return func() { close(done) }
}
