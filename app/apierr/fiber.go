package apierr

import (
	"errors"

	"github.com/gofiber/fiber/v2"
)

// Write sends err as an OpenAI error envelope.
func Write(c *fiber.Ctx, err error) error {
	e := From(err)
	for k, v := range e.Header {
		c.Set(k, v)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Status(e.Status).Send(e.JSON())
}

// Handler is the Fiber error handler: it turns Fiber's own errors (404 route,
// 405, 413 body limit) and ours into the envelope.
func Handler(c *fiber.Ctx, err error) error { return Write(c, FromFiber(c, err)) }

// FromFiber converts Fiber's own errors (404 route, 405, 413 body limit) and
// ours into an *Error.
func FromFiber(c *fiber.Ctx, err error) *Error {
	var fe *fiber.Error
	if errors.As(err, &fe) {
		switch fe.Code {
		case fiber.StatusRequestEntityTooLarge:
			return New(413, "Request body too large.")
		case fiber.StatusNotFound:
			return NotFound("Route " + c.Method() + " " + c.Path() + " not found.")
		default:
			return New(fe.Code, fe.Message)
		}
	}
	return From(err)
}
