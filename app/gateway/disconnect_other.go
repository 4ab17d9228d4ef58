//go:build !unix

package gateway

import "github.com/gofiber/fiber/v2"

// watchClient cannot detect a disconnect here: the upstream call runs to its end.
func watchClient(*fiber.Ctx, func()) (stop func()) { return func() {} }
