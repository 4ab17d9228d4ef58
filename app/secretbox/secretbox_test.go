package secretbox

import (
	"errors"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	b, _ := New("secret-a")
	s1, err := b.Seal("sk-live-123")
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := b.Seal("sk-live-123")
	if s1 == s2 || strings.Contains(s1, "sk-live") {
		t.Fatalf("sealed values must be random and opaque: %q %q", s1, s2)
	}
	if pt, err := b.Open(s1); err != nil || pt != "sk-live-123" {
		t.Fatalf("open: %q %v", pt, err)
	}
	other, _ := New("secret-b")
	if _, err := other.Open(s1); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("opened with the wrong secret: %v", err)
	}
	tampered := s1[:len(s1)-2] + "AA"
	for _, bad := range []string{tampered, "", "v1:", "plain", "v1:!!!"} {
		if _, err := b.Open(bad); !errors.Is(err, ErrDecrypt) {
			t.Errorf("Open(%q) = %v", bad, err)
		}
	}
	if _, err := New(""); err == nil {
		t.Fatal("empty secret accepted")
	}
}
