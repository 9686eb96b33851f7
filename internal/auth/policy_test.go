package auth

import (
	"testing"
)

func TestPolicy(t *testing.T) {
	policy := Policy{Basic: true, Readers: []string{"*"}, Writers: []string{"alice"},
		Sets: map[string]Access{"Salaries": {Readers: []string{"hr"}, Writers: []string{"hr"}}, "Notes": {Writers: []string{"*"}}}}
	g := &Guard{policy: policy}
	alice, bob, hr := &Principal{User: "alice", Method: "basic"}, &Principal{User: "bob", Method: "basic"}, &Principal{User: "hr", Method: "basic"}
	anon := &Principal{Method: "anonymous"}
	cases := []struct {
		who         *Principal
		set         string
		read, write bool
	}{
		{alice, "Customers", true, true},
		{bob, "Customers", true, false},
		{anon, "Customers", false, false}, // "*" is every authenticated caller
		{alice, "Salaries", false, false},
		{hr, "Salaries", true, true},
		{bob, "Notes", true, true}, // the set's writers widen the source's
		{bob, "", true, false},     // service document and $metadata
	}
	for _, c := range cases {
		if got := g.MayRead(c.who, c.set); got != c.read {
			t.Errorf("%q reads %q: %v, want %v", c.who.User, c.set, got, c.read)
		}
		if c.set != "" {
			if got := g.MayWrite(c.who, c.set); got != c.write {
				t.Errorf("%q writes %q: %v, want %v", c.who.User, c.set, got, c.write)
			}
		}
	}
	// no lists: everyone let in may read and write
	open := &Guard{policy: Policy{Anonymous: true}}
	if !open.MayRead(anon, "Customers") || !open.MayWrite(anon, "Customers") {
		t.Error("an open source refused an anonymous caller")
	}
	// per-user: the role and claims a source acts as
	pu := &Guard{policy: Policy{Basic: true, PerUser: true}}
	c, on, err := pu.Caller(&Principal{User: "anna", Role: "sales_eu", Claims: map[string]any{"region": "EU"}})
	if err != nil || !on || c.Role != "sales_eu" || c.User != "anna" || c.Claims != `{"region":"EU","role":"sales_eu","sub":"anna"}` {
		t.Errorf("caller %+v %v %v", c, on, err)
	}
	if _, _, err := pu.Caller(&Principal{User: "norole"}); err == nil {
		t.Error("a user without a role was given a caller")
	}
}

func TestThrottle(t *testing.T) {
	th := NewThrottle()
	var got []int64
	for i := 0; i < 12; i++ {
		got = append(got, th.Failed("a").Milliseconds())
	}
	want := []int64{0, 0, 0, 100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delays %v, want %v", got, want)
		}
	}
	if d := th.Failed("b"); d != 0 {
		t.Errorf("another client is held %v", d)
	}
	th.Succeeded("a")
	if d := th.Failed("a"); d != 0 {
		t.Errorf("after a success: %v", d)
	}
}
