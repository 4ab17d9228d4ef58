package gateway

import (
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// clientIP is the address IP rules are checked against: the TCP peer, or the
// first X-Forwarded-For entry when the peer is a trusted proxy (a header from
// anyone else is ignored: it would let a client pick its own address).
func (g *Gateway) clientIP(c *fiber.Ctx) netip.Addr {
	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	peer = peer.Unmap()
	if !g.trusted(peer) {
		return peer
	}
	xff := c.Get(fiber.HeaderXForwardedFor)
	if xff == "" {
		return peer
	}
	first, _, _ := strings.Cut(xff, ",")
	ip, err := netip.ParseAddr(strings.TrimSpace(first))
	if err != nil {
		return netip.Addr{} // a proxy we trust sent garbage: the client IP is unknown
	}
	return ip.Unmap()
}

func (g *Gateway) trusted(ip netip.Addr) bool {
	for _, p := range g.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
