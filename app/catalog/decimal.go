package catalog

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Scales of the YAML price fields: how many decimal places the published unit
// has relative to the stored pico-USD integer.
const (
	// perTokenScale: USD per 1M tokens -> pico-USD per token is x1e12/1e6 = x1e6,
	// so $0.000001 / 1M tokens (1 pico-USD per token) is the finest price.
	perTokenScale = 6
	// perRequestScale: USD per request -> pico-USD per request is x1e12.
	perRequestScale = 12
	// maxExponent bounds "1e<n>" forms so absurd exponents fail fast instead of
	// building huge digit strings.
	maxExponent = 64
)

// parseDecimal converts the text of a non-negative decimal number (optionally in
// e-notation: "0.075", "2.5", "10", "1e-6") into value*10^scale as an exact int64.
// It never goes through a float, so every published price is represented
// exactly; text that would need more than scale decimal places is rejected
// rather than rounded, and so are negative numbers, hex/octal, underscores,
// Inf and NaN.
func parseDecimal(s string, scale int) (int64, error) {
	if s == "" {
		return 0, errors.New("empty number")
	}
	mant, expText, hasExp := strings.Cut(strings.ToLower(s), "e")
	exp := 0
	if hasExp {
		e, err := strconv.Atoi(expText) // base 10 only: no "_" nor "0x"
		if err != nil || e < -maxExponent || e > maxExponent {
			return 0, fmt.Errorf("%q is not a decimal number", s)
		}
		exp = e
	}
	switch {
	case strings.HasPrefix(mant, "-"):
		return 0, fmt.Errorf("%q is negative", s)
	case strings.HasPrefix(mant, "+"):
		mant = mant[1:]
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	if intPart == "" && frac == "" || !allDigits(intPart) || !allDigits(frac) {
		return 0, fmt.Errorf("%q is not a decimal number", s)
	}

	// value = digits * 10^shift
	digits := strings.TrimLeft(intPart+frac, "0")
	shift := scale + exp - len(frac)
	for shift < 0 && strings.HasSuffix(digits, "0") { // "0.0000010" is fine
		digits = digits[:len(digits)-1]
		shift++
	}
	if digits == "" {
		return 0, nil
	}
	if shift < 0 {
		return 0, fmt.Errorf("%q has more than %d decimal places", s, scale)
	}
	const maxInt64Digits = 19
	if len(digits)+shift > maxInt64Digits {
		return 0, fmt.Errorf("%q is too large", s)
	}
	v, err := strconv.ParseInt(digits+strings.Repeat("0", shift), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return v, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
