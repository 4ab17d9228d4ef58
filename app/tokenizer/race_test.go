//go:build race

package tokenizer

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// allocation counts that rely on a pool are not deterministic.
const raceEnabled = true
