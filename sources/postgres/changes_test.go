package postgres

import "testing"

// TestPositionOf: the position is the oldest running transaction of this
// database, else the snapshot's xmax; others' transactions do not count.
func TestPositionOf(t *testing.T) {
	cases := []struct {
		snap string
		here []uint32
		want uint64
	}{
		{"100:105:", nil, 105},
		{"100:105:100,103", nil, 105},                                   // both in other databases
		{"100:105:100,103", []uint32{103}, 103},                         // one here
		{"100:105:100,103", []uint32{100, 103}, 100},                    // the oldest here
		{"4294967396:4294967400:4294967396", []uint32{100}, 4294967396}, // the xid8's low 32 bits match
	}
	for _, c := range cases {
		here := map[uint32]bool{}
		for _, x := range c.here {
			here[x] = true
		}
		got, err := positionOf(c.snap, here)
		if err != nil || got != c.want {
			t.Errorf("%s with %v here: %d %v, want %d", c.snap, c.here, got, err, c.want)
		}
	}
	if _, err := positionOf("nonsense", nil); err == nil {
		t.Error("a malformed snapshot was read")
	}
}
