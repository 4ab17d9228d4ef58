package catalog

import "testing"

func TestParseDecimal(t *testing.T) {
	ok := []struct {
		in    string
		scale int
		want  int64
	}{
		{"0.075", perTokenScale, 75_000},
		{"0.0375", perTokenScale, 37_500},
		{"2.5", perTokenScale, 2_500_000},
		{"2.50", perTokenScale, 2_500_000},
		{"10", perTokenScale, 10_000_000},
		{"10.00", perTokenScale, 10_000_000},
		{"0.000001", perTokenScale, 1},
		{"0.0000010", perTokenScale, 1}, // trailing zeros add no precision
		{"0", perTokenScale, 0},
		{"0.0000000", perTokenScale, 0},
		{".5", perTokenScale, 500_000},
		{"5.", perTokenScale, 5_000_000},
		{"+1", perTokenScale, 1_000_000},
		{"007", perTokenScale, 7_000_000},
		{"1e-6", perTokenScale, 1},
		{"1.5E2", perTokenScale, 150_000_000},
		{"75e-3", perTokenScale, 75_000},
		{"0.31", perTokenScale, 310_000},
		{"18.75", perTokenScale, 18_750_000},
		{"9223372036854.775807", perTokenScale, 9_223_372_036_854_775_807},
		// per request: USD -> pico-USD
		{"0.005", perRequestScale, 5_000_000_000},
		{"0.000000000001", perRequestScale, 1},
		{"1", perRequestScale, 1_000_000_000_000},
	}
	for _, c := range ok {
		got, err := parseDecimal(c.in, c.scale)
		if err != nil || got != c.want {
			t.Errorf("parseDecimal(%q, %d) = %d, %v; want %d", c.in, c.scale, got, err, c.want)
		}
	}
	bad := []struct {
		in    string
		scale int
	}{
		{"", perTokenScale},
		{"0.0000001", perTokenScale}, // finer than 1 pico-USD per token
		{"1e-7", perTokenScale},
		{"0.0000000000001", perRequestScale},
		{"-1", perTokenScale},
		{"-0.5", perTokenScale},
		{"abc", perTokenScale},
		{"1.2.3", perTokenScale},
		{".", perTokenScale},
		{"+", perTokenScale},
		{"e5", perTokenScale},
		{"1e", perTokenScale},
		{"1e5.5", perTokenScale},
		{"1e99999999999999999999", perTokenScale},
		{"1e-100", perTokenScale},
		{"0x10", perTokenScale},
		{"1_000", perTokenScale},
		{".inf", perTokenScale},
		{".nan", perTokenScale},
		{" 1", perTokenScale},
		{"1 ", perTokenScale},
		{"9223372036854.775808", perTokenScale}, // int64 overflow
		{"10000000000000000", perTokenScale},
		{"true", perTokenScale},
	}
	for _, c := range bad {
		if got, err := parseDecimal(c.in, c.scale); err == nil {
			t.Errorf("parseDecimal(%q, %d) = %d, want an error", c.in, c.scale, got)
		}
	}
}
