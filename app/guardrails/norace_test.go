//go:build !race

package guardrails

const raceEnabled = false
