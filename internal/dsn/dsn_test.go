package dsn

import (
	"strings"
	"testing"
)

func TestSplitPassword(t *testing.T) {
	cases := []struct{ dsn, without, password string }{
		{"postgres://app:s3cret@db.example.com:5432/erp", "postgres://app@db.example.com:5432/erp", "s3cret"},
		{"postgres://app:p%40ss%2Fw@db/erp?sslmode=require", "postgres://app@db/erp?sslmode=require", "p@ss/w"},
		{"postgres://app@db/erp?password=hunter2&sslmode=disable", "postgres://app@db/erp?sslmode=disable", "hunter2"},
		{"postgres://app@db/erp", "postgres://app@db/erp", ""},
		{"host=db user=app password=s3cret dbname=erp", "host=db user=app dbname=erp", "s3cret"},
		{"host=db password='it''s' dbname=erp", "host=db password='it''s' dbname=erp", ""}, // not valid keyword quoting: left alone
		{`host=db password='a b\'c' dbname=erp`, "host=db dbname=erp", "a b'c"},
		{"password=first host=db", "host=db", "first"},
		{"sqlite:/var/lib/data.db", "sqlite:/var/lib/data.db", ""},
	}
	for _, c := range cases {
		without, pw := Split(c.dsn)
		if c.dsn == "host=db password='it''s' dbname=erp" {
			// a malformed quote: whatever is taken out must not be left in
			if pw != "" && strings.Contains(without, pw) {
				t.Errorf("%q: password %q still in %q", c.dsn, pw, without)
			}
			continue
		}
		if without != c.without || pw != c.password {
			t.Errorf("Split(%q) = %q, %q; want %q, %q", c.dsn, without, pw, c.without, c.password)
		}
		if pw != "" {
			back, pw2 := Split(Join(without, pw))
			if back != without || pw2 != pw {
				t.Errorf("JoinPassword round trip of %q: %q, %q", c.dsn, back, pw2)
			}
			if strings.Contains(Redact(c.dsn), pw) {
				t.Errorf("Redact(%q) keeps the password", c.dsn)
			}
		}
	}
}

// TestScrub: a message quoting a DSN keeps no form of its password.
func TestScrub(t *testing.T) {
	cases := []struct{ dsn, msg string }{
		{"postgres://app:p%40ss%2Fw@db/erp", "cannot connect to postgres://app:p%40ss%2Fw@db/erp: refused"},
		{"postgres://app:p%40ss%2Fw@db/erp", "password p@ss/w rejected"},
		{"host=db user=app password='a b' dbname=erp", "failed: password='a b'"},
		{"postgres://app@db/erp?password=hunter2", "bad password hunter2"},
	}
	for _, c := range cases {
		got := Scrub(c.msg, c.dsn)
		_, pw := Split(c.dsn)
		if strings.Contains(got, pw) || strings.Contains(got, "p%40ss") {
			t.Errorf("Scrub(%q) = %q: the password is still there", c.msg, got)
		}
	}
	if got := Scrub("no secret here", "sqlite:/tmp/x.db"); got != "no secret here" {
		t.Errorf("a DSN without password changed the message: %q", got)
	}
}
