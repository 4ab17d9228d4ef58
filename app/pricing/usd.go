package pricing

import (
	"errors"
	"strconv"
	"strings"
)

// ParseUSD parses a decimal dollar amount ("100", "0.50", "12.345678901") exactly
// into nano-USD. More than 9 decimals, signs, exponents and overflow are refused.
func ParseUSD(s string) (int64, error) {
	s = strings.TrimSpace(s)
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" && (!hasDot || frac == "") || !digits(whole) || !digits(frac) || len(frac) > 9 || len(whole) > 9 {
		return 0, errors.New("must be a non-negative decimal amount in USD with at most 9 decimals, e.g. \"100.00\"")
	}
	var w int64
	if whole != "" {
		w, _ = strconv.ParseInt(whole, 10, 64)
	}
	f := int64(0)
	if frac != "" {
		f, _ = strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
	}
	return w*1_000_000_000 + f, nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// FormatUSD renders nano-USD as a decimal string with at least 2 decimals
// ("100.00", "0.000125").
func FormatUSD(nano int64) string {
	neg := nano < 0
	if neg {
		nano = -nano
	}
	frac := strconv.FormatInt(nano%1_000_000_000, 10)
	frac = strings.Repeat("0", 9-len(frac)) + frac
	frac = strings.TrimRight(frac, "0")
	for len(frac) < 2 {
		frac += "0"
	}
	out := strconv.FormatInt(nano/1_000_000_000, 10) + "." + frac
	if neg {
		out = "-" + out
	}
	return out
}
