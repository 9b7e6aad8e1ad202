package broker

import (
	"bytes"
	"testing"
)

// TestSkipTaggedFields: a request header's tagged-field section is
// skipped whole, and a malformed one (a count or a size past the end, a
// varint that never ends) is an error, not a panic or a short read.
func TestSkipTaggedFields(t *testing.T) {
	rest := []byte{0xAA, 0xBB}
	for _, tc := range []struct {
		name    string
		section []byte
		ok      bool
	}{
		{"none", []byte{0}, true},
		{"two tags", []byte{2, 0, 1, 0x7f, 5, 3, 1, 2, 3}, true},
		{"count past the end", []byte{200}, false},
		{"size past the end", []byte{1, 0, 50, 1, 2}, false},
		{"varint never ends", []byte{0xff, 0xff, 0xff}, false},
		{"empty", nil, false},
	} {
		in := append(append([]byte{}, tc.section...), rest...)
		if !tc.ok {
			in = tc.section // nothing after it to mistake for tags
		}
		got, err := skipTaggedFields(in)
		if tc.ok && (err != nil || !bytes.Equal(got, rest)) {
			t.Errorf("%s: got %x, %v; want %x", tc.name, got, err, rest)
		}
		if !tc.ok && err == nil {
			t.Errorf("%s: skipped to %x without an error", tc.name, got)
		}
	}
}
